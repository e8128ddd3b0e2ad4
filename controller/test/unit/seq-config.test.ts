import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config";

const env = (e: Record<string, string>) => loadConfig({ dataDir: "/tmp/vigil-config-test" }, e);

describe("config: seq window, event time tolerance, agent health thresholds", () => {
  it("defaults", () => {
    const c = env({});
    expect(c.seqWindow).toEqual({ maxAhead: 32_000, maxRatePerSec: 10_000 });
    expect(c.eventTimeToleranceMs).toBe(86_400_000);
    expect(c.agentClockSkewAlertMs).toBe(300_000);
    expect(c.agentStalledAfterMs).toBe(120_000);
  });

  it("reads the variables; off turns the clock alert off", () => {
    const c = env({ VIGIL_SEQ_MAX_AHEAD: "5000", VIGIL_SEQ_MAX_RATE: "200", VIGIL_EVENT_TIME_TOLERANCE: "6h", VIGIL_AGENT_CLOCK_SKEW_ALERT: "off", VIGIL_AGENT_STALLED_AFTER: "30s" });
    expect(c.seqWindow).toEqual({ maxAhead: 5000, maxRatePerSec: 200 });
    expect(c.eventTimeToleranceMs).toBe(6 * 3_600_000);
    expect(c.agentClockSkewAlertMs).toBe(0);
    expect(c.agentStalledAfterMs).toBe(30_000);
  });

  it("the tolerance is never as wide as retention, so nothing is deleted on arrival", () => {
    expect(env({ VIGIL_EVENT_RETENTION: "12h" }).eventTimeToleranceMs).toBe(6 * 3_600_000);
  });

  it.each([
    ["VIGIL_SEQ_MAX_AHEAD", "0"],
    ["VIGIL_SEQ_MAX_RATE", "1e3"],
    ["VIGIL_SEQ_MAX_AHEAD", "-5"],
    ["VIGIL_EVENT_TIME_TOLERANCE", "soon"],
  ])("refuses %s=%s with a clear error", (name, value) => {
    expect(() => env({ [name]: value })).toThrow(ConfigError);
    expect(() => env({ [name]: value })).toThrow(name);
  });
});
