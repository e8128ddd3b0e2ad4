import { describe, expect, it } from "vitest";
import { compileRules, DetectionEngine, type SigmaEvent } from "../../src/sigma";

const T0 = Date.UTC(2025, 0, 1);
const base = `title: Connection closed
id: 44444444-4444-4444-8444-444444444444
name: conn_closed
logsource: { product: linux, category: network_close }
detection:
  sel: { Initiated: 'true' }
  condition: sel
level: low
`;

const corr = (type: string, condition: string, groupBy = "User") => `title: ${type} test
id: 55555555-5555-4555-8555-55555555555${type.length % 10}
correlation:
  type: ${type}
  rules: [conn_closed]
  group-by: [${groupBy}]
  timespan: 1h
  condition: { ${condition} }
level: high
`;

const ev = (t: number, user: string, bytes: number | string, image = "/usr/bin/curl"): SigmaEvent => ({
  logsource: { product: "linux", category: "network_close" },
  fields: { Initiated: "true", User: user, BytesSent: bytes, Image: image },
  timeMs: T0 + t * 1000,
});

function run(rule: string, events: SigmaEvent[]) {
  const { ruleset, errors } = compileRules([
    { name: "base.yml", text: base },
    { name: "corr.yml", text: rule },
  ]);
  expect(errors).toEqual([]);
  const e = new DetectionEngine(ruleset);
  return [...events.flatMap((x) => e.process(x)), ...e.flush()].filter((m) => m.kind === "correlation");
}

describe("aggregating correlations", () => {
  it("value_sum over a field that cannot be negative fires early: the bytes a user sent in the last hour", () => {
    const rule = corr("value_sum", "field: BytesSent, gt: 1000000");
    const out = run(rule, [ev(0, "eve", 400_000), ev(60, "eve", "400000"), ev(120, "eve", 300_000), ev(130, "bob", 900_000), ev(140, "bob", "n/a")]);
    expect(out.map((m) => m.groupBy)).toEqual([{ User: "eve" }]);
    expect(out[0]).toMatchObject({ timeMs: T0 + 120_000, eventCount: 3, window: { startMs: T0 + 120_000 - 3_600_000, endMs: T0 + 120_000 } });
  });

  it("value_sum over any other field is decided when the window closes (a negative value could undo it)", () => {
    const rule = corr("value_sum", "field: Delta, gt: 100");
    const d = (t: number, delta: number): SigmaEvent => ({ ...ev(t, "eve", 0), fields: { Initiated: "true", User: "eve", Delta: delta } });
    const { ruleset } = compileRules([
      { name: "base.yml", text: base },
      { name: "corr.yml", text: rule },
    ]);
    expect(ruleset.rules.find((r) => r.kind === "correlation")?.firing).toBe("at_window_close");
    const e = new DetectionEngine(ruleset);
    expect([d(0, 80), d(10, 80)].flatMap((x) => e.process(x))).toHaveLength(0);
    expect(e.process(d(20, -70))).toHaveLength(0);
    expect(e.flush()).toHaveLength(0);
    const out = run(rule, [d(0, 80), d(10, 80)]);
    expect(out.map((m) => m.window)).toEqual([{ startMs: T0, endMs: T0 + 3_600_000 }]);
  });

  it("value_avg: the average, over numeric values only", () => {
    const rule = corr("value_avg", "field: BytesSent, gt: 500");
    const out = run(rule, [ev(0, "eve", 1000), ev(1, "eve", 200), ev(2, "bob", 100), ev(3, "bob", 200)]);
    expect(out.map((m) => m.groupBy)).toEqual([{ User: "eve" }]);
  });

  it("value_percentile: values whose share of the window is at most 1% (the rare ones)", () => {
    const rule = corr("value_percentile", "field: Image, lte: 1", "Hostname");
    const events = Array.from({ length: 200 }, (_, i) => ({
      ...ev(i, "x", 1, i === 77 ? "/tmp/.x/miner" : "/usr/bin/curl"),
      fields: { Initiated: "true", Hostname: "web-1", Image: i === 77 ? "/tmp/.x/miner" : "/usr/bin/curl" },
    }));
    const out = run(rule, events);
    expect(out.map((m) => m.groupBy)).toEqual([{ Hostname: "web-1", Image: "/tmp/.x/miner" }]);
    expect(out[0].eventCount).toBe(1);
  });

  it("needs a field and a comparison", () => {
    const { errors } = compileRules([
      { name: "base.yml", text: base },
      { name: "corr.yml", text: corr("value_sum", "gt: 5") },
    ]);
    expect(errors[0]?.message).toMatch(/value_sum needs 'field'/);
  });
});
