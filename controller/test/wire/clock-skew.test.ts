import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RetentionJob } from "../../src/retention/retention";
import { createPgDatabase, startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

/**
 * Issue #10 class 8: events stamped 1970 or 40 days ago were acked, then
 * deleted by retention within a minute, with no gap recorded. Time is now
 * recorded, not trusted.
 */
const DAY = 86_400_000;

for (const dialect of ["sqlite", "postgres"] as const)
  describe(`event time is recorded, not trusted (${dialect})`, () => {
    let ctl: TestController;
    let a: RawAgent;
    let sentAt: number;
    let drop: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const db = dialect === "postgres" ? await createPgDatabase() : undefined;
      drop = db?.drop;
      ctl = await startTestController({ databaseUrl: db?.url, env: { VIGIL_AGENT_CLOCK_SKEW_ALERT: "5m", VIGIL_AGENT_STALLED_AFTER: "1s" } });
      a = new RawAgent(ctl.grpcPort);
      sentAt = Date.now();
      // A host whose clock runs 40 days behind: its Hello says so, and so do its events.
      a.hello("skewed-agent", { timeMs: sentAt - 40 * DAY });
      await waitFor("welcome", () => a.received.length > 0);
      a.events(1, 4, (seq) => ({ eventTimeMs: [1_000, sentAt - 40 * DAY, sentAt + 3 * DAY, sentAt - 60_000][seq - 1] }));
      await waitFor("ack 4", () => a.lastAck() === 4);
    });
    afterAll(async () => {
      a?.close();
      await ctl?.dispose();
      await drop?.();
    });

    it("stores 1970, 40-days-ago and far-future events at their receive time, keeping what the host reported", async () => {
      const items = (await ctl.get("/api/v1/events?agent=skewed-agent")).body.items as Array<Record<string, any>>;
      const bySeq = new Map(items.map((e) => [e.seq, e]));
      expect([...bySeq.keys()].sort()).toEqual([1, 2, 3, 4]);
      for (const [seq, reported] of [
        [1, 1_000],
        [2, sentAt - 40 * DAY],
        [3, sentAt + 3 * DAY],
      ] as const) {
        const e = bySeq.get(seq)!;
        expect(e.eventTime).toBe(e.receivedAt);
        expect(e.reportedTime).toBe(new Date(reported).toISOString());
        expect(e.clockSkewMs).toBe(reported - Date.parse(e.receivedAt));
        // The mark is lifted out of the body, not left among the host's fields.
        expect(e.agent).toEqual({ kind: "test", message: `event ${seq}` });
      }
      // A minute late is inside the tolerance: the host's time is kept, unmarked.
      const recent = bySeq.get(4)!;
      expect(recent.eventTime).toBe(new Date(sentAt - 60_000).toISOString());
      expect(recent.reportedTime).toBeUndefined();
      expect(recent.clockSkewMs).toBeUndefined();
      const metrics = (await ctl.get("/metrics")).body as string;
      expect(metrics).toMatch(/^vigil_events_clock_skewed_total 3$/m);
    });

    it("survives a retention pass with the controller's retention", async () => {
      const deleted = await new RetentionJob(ctl.store, ctl.config.eventRetentionMs).runOnce();
      expect(deleted).toBe(0);
      expect(await ctl.store.countForAgent("skewed-agent")).toBe(4);
    });

    it("shows the agent's clock offset and alerts past the threshold", async () => {
      const agent = (await ctl.get("/api/v1/agents/skewed-agent")).body;
      expect(agent.clockOffsetMs).toBeLessThan(-40 * DAY + 60_000);
      expect(agent.clockOffsetMs).toBeGreaterThan(-40 * DAY - 60_000);
      const alert = await waitFor("the clock-skew alert", async () => (await ctl.get("/api/v1/alerts?rule=vigil-agent-clock-skew&agent=skewed-agent")).body.items?.[0]);
      expect(alert).toMatchObject({ rule: { id: "vigil-agent-clock-skew" }, agentId: "skewed-agent" });
    });

    it("a heartbeat with a fixed clock clears the offset", async () => {
      a.send({ msg: { $case: "heartbeat", heartbeat: { timeMs: Date.now() } } });
      await waitFor("offset back to 0", async () => (await ctl.get("/api/v1/agents/skewed-agent")).body.clockOffsetMs === 0);
    });

    it("an agent with a good clock shows a zero offset; one that sent no time shows none", async () => {
      const good = new RawAgent(ctl.grpcPort);
      good.hello("good-clock", { timeMs: Date.now() });
      const old = new RawAgent(ctl.grpcPort);
      old.hello("older-agent");
      await waitFor("both welcomed", () => good.received.length > 0 && old.received.length > 0);
      expect((await ctl.get("/api/v1/agents/good-clock")).body.clockOffsetMs).toBe(0);
      expect((await ctl.get("/api/v1/agents/older-agent")).body.clockOffsetMs).toBeNull();
      good.close();
      old.close();
    });
  });
