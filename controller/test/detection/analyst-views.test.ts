import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestController } from "../support/controller";
import { request } from "../support/http";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";
import { BRUTE_FORCE, BRUTE_THEN_SUCCESS, clock, EXEC_FROM_TMP, exec, MIN, send, settled, sshFailure, sshSuccess, startDetectionController, T0 } from "./support";

interface Alert {
  id: string;
  caseId: string;
  count: number;
  score: number;
  hostname: string;
  rule: { id: string; title: string };
  entity: { kind: string; value: string; hostname?: string };
  entities: Array<{ kind: string; value: string; hostname?: string }>;
  breakdown: Array<{ factor: string; detail: string }>;
  eventRefs: Array<{ agentId: string; seq: number; timeMs: number }>;
  newestEventRef: { agentId: string; seq: number; timeMs: number } | null;
  events: Array<Record<string, unknown>>;
}
interface TimelineEntry {
  kind: string;
  summary: string;
  ref?: { seq?: number; hostname?: string };
  fields?: Array<{ label: string; value: string }>;
}

/** An agent whose hostname is chosen (two hosts may share one, as two cloned VMs do). */
async function host(ctl: TestController, agentId: string, hostname: string): Promise<RawAgent> {
  const a = new RawAgent(ctl.grpcPort);
  a.hello(agentId, { hostname });
  await waitFor(`${agentId} welcome`, () => a.received.some((m) => m.msg?.$case === "welcome"));
  return a;
}

async function alertsOf(ctl: TestController, agentId: string): Promise<Alert[]> {
  const r = await request(ctl, "GET", `/api/v1/alerts?agent=${agentId}&state=new`);
  expect(r.status).toBe(200);
  return r.body.items as Alert[];
}

const fieldsOf = (e: TimelineEntry) => Object.fromEntries((e.fields ?? []).map((f) => [f.label, f.value]));

describe("what an analyst reads: hostnames, stable case titles, labelled timelines, the newest evidence (issue 14)", () => {
  let ctl: TestController;
  const vmA = randomUUID();
  const vmB = randomUUID();
  let a: RawAgent;
  let b: RawAgent;
  beforeAll(async () => {
    ctl = await startDetectionController();
    a = await host(ctl, vmA, "vm");
    b = await host(ctl, vmB, "vm");
  });
  afterAll(async () => {
    a?.close();
    b?.close();
    await ctl?.dispose();
  });

  it("an alert matched 122 times keeps its first and newest events: the newest is reachable from the alert and the case", async () => {
    const t0 = T0 - 60 * MIN;
    // 122 runs of /tmp/x, 8 s apart: one alert (dedup), 122 matches over ~16 minutes.
    const runs = Array.from({ length: 122 }, (_, i) => exec(t0 + i * 8_000, "/tmp/x", "root"));
    await send(a, 1, [...runs, clock(t0 + 30 * MIN)]);
    await settled(ctl);
    const [alert] = (await alertsOf(ctl, vmA)).filter((x) => x.rule.id === EXEC_FROM_TMP);
    expect(alert.count).toBe(122);
    const newestSeq = 122; // seqs 1..122 are the runs, in time order
    expect(alert.eventRefs.length).toBe(50); // bounded: 40 first + 10 newest
    expect(alert.eventRefs[0].seq).toBe(1);
    expect(alert.eventRefs.map((r) => r.seq)).toContain(newestSeq);
    expect(alert.eventRefs.slice(-10).map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 113 + i));
    expect(alert.newestEventRef).toEqual({ agentId: vmA, seq: newestSeq, timeMs: t0 + 121 * 8_000 });
    expect(alert.events.length).toBe(10);
    expect(alert.events.at(-1)?.EventSeq).toBe(newestSeq);

    const story = (await request(ctl, "GET", `/api/v1/cases/${alert.caseId}`)).body as { timeline: TimelineEntry[] };
    const seqs = story.timeline.filter((e) => e.kind === "event.process").map((e) => e.ref?.seq);
    expect(seqs).toContain(newestSeq);
    expect(seqs).toContain(1);
  });

  it("names hosts next to agent ids (alerts, entities, cases) and labels timeline fields per event kind", async () => {
    const [alert] = (await alertsOf(ctl, vmA)).filter((x) => x.rule.id === EXEC_FROM_TMP);
    expect(alert.hostname).toBe("vm");
    expect(alert.entity).toEqual({ kind: "host", value: vmA, hostname: "vm" });
    expect(alert.entities).toContainEqual({ kind: "host", value: vmA, hostname: "vm" });

    const c = (await request(ctl, "GET", `/api/v1/cases/${alert.caseId}`)).body as { entities: Array<{ kind: string; value: string; hostname?: string }>; timeline: TimelineEntry[] };
    expect(c.entities).toContainEqual({ kind: "host", value: vmA, hostname: "vm" });
    const list = (await request(ctl, "GET", "/api/v1/cases?limit=500")).body.items as Array<{ id: string; entities: unknown[] }>;
    expect(list.find((x) => x.id === alert.caseId)?.entities).toContainEqual({ kind: "host", value: vmA, hostname: "vm" });

    const risk = (await request(ctl, "GET", "/api/v1/entities?kind=host&limit=1000")).body.items as Array<{ value: string; hostname?: string }>;
    expect(risk.find((e) => e.value === vmA)).toMatchObject({ hostname: "vm" });

    const run = c.timeline.find((e) => e.kind === "event.process" && e.ref?.seq === 3)!;
    expect(run.summary).toBe("process start: /tmp/x");
    expect(run.ref?.hostname).toBe("vm");
    expect(fieldsOf(run)).toMatchObject({ Image: "/tmp/x", "Command line": "/tmp/x --run", PID: "999", User: "root (uid 33)", "Parent PID": "1" });
    const raised = c.timeline.find((e) => e.kind === "alert")!;
    expect(raised.summary).toMatch(/on host vm, 122 times$/);
    expect(raised.summary).not.toMatch(/\d{4}-\d\d-\d\dT/); // no ISO timestamps inside text: the console formats times
    expect(fieldsOf(raised)).toMatchObject({ Host: "vm", Matches: "122" });
  });

  it("a case keeps the title it opened with when a higher-scoring alert joins; the chain factor names rules and host, not ids", async () => {
    const ip = "203.0.113.99";
    const t0 = Math.floor(T0 / (10 * MIN)) * 10 * MIN;
    // A binary run from /tmp opens the case ...
    let seq = await send(b, 1, [exec(t0, "/tmp/dropper", "alice"), clock(t0 + 30 * MIN)]);
    await settled(ctl);
    const [first] = await alertsOf(ctl, vmB);
    expect(first.rule.id).toBe(EXEC_FROM_TMP);
    const opened = (await request(ctl, "GET", `/api/v1/cases/${first.caseId}`)).body as { title: string; score: number };
    expect(opened.title).toBe("Execution From Temporary Directory Or Deleted File on vm");

    // ... then a brute force that ends in a login on the same host joins it, scoring higher.
    const fails = Array.from({ length: 6 }, (_, i) => sshFailure(t0 + 40 * MIN + i * 20_000, ip, "alice"));
    seq = await send(b, seq, [...fails, sshSuccess(t0 + 45 * MIN, ip, "alice"), clock(t0 + 3 * 60 * MIN)]);
    await settled(ctl);
    const comp = await waitFor("the compromise alert", async () => (await alertsOf(ctl, vmB)).find((x) => x.rule.id === BRUTE_THEN_SUCCESS));
    expect((await alertsOf(ctl, vmB)).map((x) => x.rule.id).sort()).toEqual([BRUTE_FORCE, BRUTE_THEN_SUCCESS, EXEC_FROM_TMP].sort());
    expect(comp.caseId).toBe(first.caseId);
    expect(comp.score).toBeGreaterThan(first.score);
    const after = (await request(ctl, "GET", `/api/v1/cases/${first.caseId}`)).body as { title: string; score: number; timeline: TimelineEntry[] };
    expect(after.score).toBe(comp.score); // the score rises ...
    expect(after.title).toBe(opened.title); // ... the title stays

    const chain = comp.breakdown.find((f) => f.factor === "chain")!;
    expect(chain.detail).toContain("2 other rules (Execution From Temporary Directory Or Deleted File, SSH Brute Force From One Source)");
    expect(chain.detail).toContain("host vm");
    expect(chain.detail).not.toContain(vmB);
    expect(chain.detail).not.toContain(BRUTE_FORCE);

    const login = after.timeline.find((e) => e.kind === "event.auth" && /Accepted/.test(fieldsOf(e)["Log line"] ?? ""))!;
    expect(fieldsOf(login)).toMatchObject({ User: "alice", Source: `${ip}:40001`, Service: "sshd", Method: "password" });

    // An analyst's rename holds; detection never overwrites it.
    const bad = await request(ctl, "POST", `/api/v1/cases/${first.caseId}/title`, { title: "" });
    expect(bad.status).toBe(400);
    const renamed = await request(ctl, "POST", `/api/v1/cases/${first.caseId}/title`, { title: "alice's account taken over from 203.0.113.99" });
    expect(renamed.status).toBe(200);
    expect(renamed.body.title).toBe("alice's account taken over from 203.0.113.99");
    expect(renamed.body.entities).toContainEqual({ kind: "host", value: vmB, hostname: "vm" });
    await send(b, seq, [exec(t0 + 4 * 60 * MIN, "/tmp/dropper", "alice"), clock(t0 + 5 * 60 * MIN)]);
    await settled(ctl);
    await waitFor("the second dropper alert", async () => (await alertsOf(ctl, vmB)).filter((x) => x.rule.id === EXEC_FROM_TMP).length === 2);
    const last = (await request(ctl, "GET", `/api/v1/cases/${first.caseId}`)).body as { title: string; alertCount: number };
    expect(last.alertCount).toBe(4);
    expect(last.title).toBe("alice's account taken over from 203.0.113.99");
  });
});
