import { describe, expect, it } from "vitest";
import { AgentHealth } from "../../src/agents/agent-health";
import { AgentHealthWatcher, CLOCK_SKEW_RULE_ID, TELEMETRY_REFUSED_RULE_ID, type AgentHealthAlert, type HealthWatchedAgent } from "../../src/detection/agent-health-watcher";

describe("AgentHealth: connected is not the same as telemetry stored", () => {
  it("refused until a batch is stored, across reconnects", () => {
    let now = 1_000;
    const h = new AgentHealth(60_000, () => now);
    h.connected("a", now, 0);
    h.refused("a", "seq 9 beyond");
    expect(h.telemetry("a", true)).toMatchObject({ state: "refused", sinceMs: 1_000 });
    now += 5_000;
    h.connected("a", now, 0);
    h.refused("a", "seq 9 beyond");
    expect(h.telemetry("a", true).reason).toMatch(/^2 batch\(es\) refused/);
    h.stored("a");
    expect(h.telemetry("a", true).state).toBe("ok");
  });

  it("stalled only with a backlog, a live stream and nothing stored for the threshold", () => {
    let now = 0;
    const h = new AgentHealth(10_000, () => now);
    h.connected("a", undefined, 0);
    now = 20_000;
    expect(h.telemetry("a", true).state).toBe("ok");
    h.backlog("a", 7);
    expect(h.telemetry("a", true).state).toBe("stalled");
    expect(h.telemetry("a", false).state).toBe("ok");
    h.stored("a");
    expect(h.telemetry("a", true).state).toBe("ok");
  });

  it("clock offsets under a second are noise; absent or nonsense readings are ignored", () => {
    const h = new AgentHealth(10_000, () => 1_000_000);
    h.connected("a", undefined, 0);
    expect(h.clockOffsetMs("a")).toBeNull();
    h.clock("a", 1_000_400);
    expect(h.clockOffsetMs("a")).toBe(0);
    h.clock("a", 400_000);
    expect(h.clockOffsetMs("a")).toBe(-600_000);
    h.clock("a", -5);
    expect(h.clockOffsetMs("a")).toBe(-600_000);
  });
});

describe("AgentHealthWatcher: one alert per episode", () => {
  it("raises once while the condition lasts, again after it cleared and came back", async () => {
    const agents: HealthWatchedAgent[] = [{ id: "a", hostname: "h", tags: [], telemetry: "refused", telemetryReason: "seq", clockOffsetMs: -3_600_000 }];
    const raised: AgentHealthAlert[] = [];
    const w = new AgentHealthWatcher({ agents: async () => agents, raise: async (x) => void raised.push(x), clockSkewThresholdMs: 300_000, everyMs: 1000 });
    await w.check();
    await w.check();
    expect(raised.map((r) => r.ruleId).sort()).toEqual([CLOCK_SKEW_RULE_ID, TELEMETRY_REFUSED_RULE_ID].sort());
    agents[0] = { ...agents[0], telemetry: "ok", clockOffsetMs: 0 };
    await w.check();
    agents[0] = { ...agents[0], telemetry: "refused" };
    await w.check();
    expect(raised.filter((r) => r.ruleId === TELEMETRY_REFUSED_RULE_ID)).toHaveLength(2);
    expect(raised.filter((r) => r.ruleId === CLOCK_SKEW_RULE_ID)).toHaveLength(1);
  });

  it("a failed raise is retried on the next pass", async () => {
    let fail = true;
    const raised: string[] = [];
    const w = new AgentHealthWatcher({
      agents: async () => [{ id: "a", hostname: "h", tags: [], telemetry: "stalled", telemetryReason: "x", clockOffsetMs: null }],
      raise: async (x) => {
        if (fail) throw new Error("db down");
        raised.push(x.ruleId);
      },
      clockSkewThresholdMs: 0,
      everyMs: 1000,
      onError: () => undefined,
    });
    await w.check();
    fail = false;
    await w.check();
    expect(raised).toEqual(["vigil-agent-telemetry-stalled"]);
  });
});
