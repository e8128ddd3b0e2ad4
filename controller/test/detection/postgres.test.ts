import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgDatabase, type TestController } from "../support/controller";
import { request } from "../support/http";
import { BRUTE_FORCE, BRUTE_THEN_SUCCESS, clock, connect, connection, IOC_HIT, MIN, send, settled, sshFailure, sshSuccess, startDetectionController, T0 } from "./support";

describe("detection pipeline on PostgreSQL", () => {
  let ctl: TestController;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createPgDatabase();
    drop = db.drop;
    ctl = await startDetectionController({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await ctl?.dispose();
    await drop?.();
  });

  it("brute force (deduped), then success → chained case; IOC import and hit; feedback recorded", async () => {
    const a = await connect(ctl, "pg-host");
    const ip = "203.0.113.60";
    // From 7 minutes into a 10-minute span: the rule fires on the 5th failure and again in the next span (one alert, count 2).
    const start = Math.floor(T0 / (10 * MIN)) * 10 * MIN + 7 * MIN;
    const fails = Array.from({ length: 11 }, (_, i) => sshFailure(start + i * 25_000, ip, "carol"));
    const imp = await request(ctl, "POST", "/api/v1/iocs/import", "type,value,confidence\nip,192.0.2.99,100\n", { "content-type": "text/csv" });
    expect(imp.body.imported).toBe(1);
    await send(a, 1, [...fails, sshSuccess(start + 6 * MIN, ip, "carol"), connection(start + 7 * MIN, "192.0.2.99"), clock(start + 2 * 60 * MIN)]);
    await settled(ctl);
    const items = (await request(ctl, "GET", "/api/v1/alerts?agent=pg-host")).body.items as any[];
    expect(items.map((x) => x.rule.id).sort()).toEqual([BRUTE_FORCE, BRUTE_THEN_SUCCESS, IOC_HIT].sort());
    const brute = items.find((x) => x.rule.id === BRUTE_FORCE);
    const comp = items.find((x) => x.rule.id === BRUTE_THEN_SUCCESS);
    expect(brute.count).toBe(2);
    expect(comp.caseId).toBe(brute.caseId);
    expect(comp.score).toBeGreaterThan(brute.score);
    const story = (await request(ctl, "GET", `/api/v1/cases/${brute.caseId}`)).body;
    expect(story.timeline.filter((e: { kind: string }) => e.kind === "event.auth").length).toBeGreaterThanOrEqual(6);

    const fb = await request(ctl, "POST", `/api/v1/alerts/${brute.id}/feedback`, { verdict: "true_positive" });
    expect(fb.body.weight).toBeCloseTo(1.1);
    expect((await request(ctl, "GET", `/api/v1/alerts/${brute.id}`)).body.feedback).toHaveLength(1);
    expect((await request(ctl, "GET", `/api/v1/alerts?entity=ip:${ip}&minScore=1`)).body.items).toHaveLength(2);
    const resolved = await request(ctl, "POST", `/api/v1/cases/${brute.caseId}/state`, { state: "resolved", verdict: "true_positive" });
    expect(resolved.body.state).toBe("resolved");
    expect((await request(ctl, "GET", `/api/v1/alerts?case=${brute.caseId}&state=resolved`)).body.items.length).toBe(3);
    a.close();
  });
});
