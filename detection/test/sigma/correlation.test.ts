import { describe, expect, it } from "vitest";
import { compileRules, type Match, type SigmaEvent } from "../../src/sigma";
import { engineFor, finalAlerts, runAll } from "./helpers";

const base = (name: string, action: string): string => `title: ${name}
id: ${name}
name: ${name}
logsource: {product: linux, service: sshd}
detection:
    selection:
        AuthAction: ${action}
    condition: selection
`;
const FAIL = base("failed", "login_failure");
const OK = base("ok", "login_success");

const corr = (body: string, extra = ""): string => `title: Corr
id: corr
level: high
${extra}correlation:
${body
  .trim()
  .split("\n")
  .map((l) => "    " + l)
  .join("\n")}
`;
const BRUTE = corr(`type: event_count
rules: [failed]
group-by: [SourceIp]
timespan: 10m
condition: {gte: 5}`);

const MIN = 60_000;
const auth = (action: string, ip: string, t: number, user = "bob"): SigmaEvent => ({
  logsource: { product: "linux", category: "authentication", service: "sshd" },
  fields: { AuthAction: action, SourceIp: ip, User: user },
  timeMs: t,
});
const fails = (ip: string, times: number[]): SigmaEvent[] => times.map((t) => auth("login_failure", ip, t));

describe("event_count", () => {
  it("fires once per group when 5 failures fall inside 10 minutes, and base rules stay silent", () => {
    const e = engineFor({}, BRUTE, FAIL);
    const out = runAll(e, [
      ...fails(
        "1.1.1.1",
        [0, 1, 2, 3, 4].map((m) => m * MIN),
      ),
      ...fails(
        "2.2.2.2",
        [0, 1].map((m) => m * MIN),
      ),
    ]);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ kind: "correlation", correlationType: "event_count", groupBy: { SourceIp: "1.1.1.1" }, eventCount: 5, timeMs: 4 * MIN });
    expect(out[0].events).toHaveLength(5);
  });
  it("does not fire for failures spread over hours", () => {
    const e = engineFor({}, BRUTE, FAIL);
    expect(
      runAll(
        e,
        fails(
          "1.1.1.1",
          [0, 20, 40, 60, 80, 100, 120].map((m) => m * MIN),
        ),
      ),
    ).toHaveLength(0);
  });
  it("uses a sliding window, not fixed buckets", () => {
    // 2 early failures expire; 5 within minutes 9..18 fire.
    const e = engineFor({}, BRUTE, FAIL);
    expect(
      runAll(
        e,
        fails(
          "1.1.1.1",
          [0, 1, 9, 12, 15, 17, 18].map((m) => m * MIN),
        ),
      ),
    ).toHaveLength(1);
  });
  it("supports upper-bound conditions evaluated when the window closes", () => {
    const few = corr(`type: event_count
rules: [failed]
group-by: [SourceIp]
timespan: 10m
condition: {gte: 2, lt: 4}`);
    const e = engineFor({}, few, FAIL);
    const out = runAll(e, [
      ...fails(
        "1.1.1.1",
        [0, 1, 2].map((m) => m * MIN),
      ),
      ...fails(
        "2.2.2.2",
        [0, 1, 2, 3, 4].map((m) => m * MIN),
      ),
    ]);
    expect(out.map((m) => m.groupBy)).toEqual([{ SourceIp: "1.1.1.1" }]);
    expect(out[0].window).toEqual({ startMs: 0, endMs: 10 * MIN });
  });
});

describe("event time, out of order and replay", () => {
  const shuffled = (evs: SigmaEvent[], seed: number): SigmaEvent[] => {
    const a = [...evs];
    let s = seed;
    for (let i = a.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      const j = s % (i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
  // An attack from one IP, noise from another, and a success afterwards.
  const stream: SigmaEvent[] = [];
  for (let i = 0; i < 40; i++) stream.push(auth("login_failure", i % 3 ? "6.6.6.6" : "7.7.7.7", i * 20_000));
  stream.push(auth("login_success", "6.6.6.6", 40 * 20_000));
  const SEQ = corr(
    `type: temporal_ordered
rules: [burst, ok]
group-by: [SourceIp]
timespan: 30m`,
    "generate: true\n",
  ).replace("id: corr", "id: seq");
  const BURST = BRUTE.replace("id: corr", "id: burst\nname: burst");
  // The alerts as a consumer ends up with them: an update replaces the early firing it revises.
  const key = (ms: Match[]): string[] =>
    finalAlerts(ms)
      .map((m) => `${m.rule.id}@${m.timeMs}:${JSON.stringify(m.groupBy)}:${m.eventCount}`)
      .sort();

  it("gives the same alerts live (shuffled within the tolerance, no flush) as replayed in order", () => {
    const replay = key(runAll(engineFor({}, SEQ, BURST, FAIL, OK), stream));
    expect(replay.length).toBeGreaterThan(2);
    // Live: arrival jittered by up to 50 s, then event time moves on (a later clock tick).
    const arrival = (i: number): number => stream[i].timeMs + ((Math.imul(i + 1, 2654435761) >>> 0) % 50_000);
    const jitter = stream
      .map((e, i) => ({ e, at: arrival(i) }))
      .sort((a, b) => a.at - b.at)
      .map((x) => x.e);
    expect(jitter.map((e) => e.timeMs)).not.toEqual(stream.map((e) => e.timeMs));
    const live = engineFor({ outOfOrderToleranceMs: 60_000 }, SEQ, BURST, FAIL, OK);
    const out = jitter.flatMap((e) => live.process(e));
    out.push(...live.advanceTo(stream[stream.length - 1].timeMs + 61_000));
    expect(key(out)).toEqual(replay);
    expect(live.stats.lateEvents).toBe(0);
  });
  it("gives the same alerts for any arrival order when the tolerance covers it", () => {
    const replay = key(runAll(engineFor({}, SEQ, BURST, FAIL, OK), stream));
    for (const seed of [1, 2, 3]) {
      const e = engineFor({ outOfOrderToleranceMs: 3_600_000 }, SEQ, BURST, FAIL, OK);
      expect(key(runAll(e, shuffled(stream, seed)))).toEqual(replay);
    }
  });
  it("counts events later than the tolerance instead of dropping them silently", () => {
    const e = engineFor({ outOfOrderToleranceMs: 1_000 }, BRUTE, FAIL);
    e.process(auth("login_failure", "1.1.1.1", 10 * MIN));
    e.process(auth("login_failure", "1.1.1.1", 1 * MIN));
    expect(e.stats.lateEvents).toBe(1);
  });
  it("fires a lower-bound count the moment it holds, without waiting for the tolerance", () => {
    const e = engineFor({ outOfOrderToleranceMs: 60_000 }, BRUTE, FAIL);
    const times = [0, 1, 2, 3].map((m) => m * 10_000);
    expect(times.flatMap((t) => e.process(auth("login_failure", "1.1.1.1", t)))).toHaveLength(0);
    expect(e.process(auth("login_failure", "1.1.1.1", 40_000))).toMatchObject([{ rule: { id: "corr" }, eventCount: 5, timeMs: 40_000 }]);
    expect(e.advanceTo(40_000 + 60_000)).toHaveLength(0);
  });
  it("holds at-window-close conditions until event time passes the window's end and the tolerance", () => {
    const few = BRUTE.replace("{gte: 5}", "{gte: 2, lt: 4}");
    const e = engineFor({ outOfOrderToleranceMs: 60_000 }, few, FAIL);
    expect([0, 1].flatMap((m) => e.process(auth("login_failure", "1.1.1.1", m * MIN)))).toHaveLength(0);
    expect(e.advanceTo(10 * MIN + 59_000)).toHaveLength(0);
    expect(e.advanceTo(10 * MIN + 60_000)).toHaveLength(1);
  });
  it("bounds state: groups beyond the cap are evicted and counted", () => {
    const e = engineFor({ maxGroupsPerCorrelation: 100, outOfOrderToleranceMs: 0 }, BRUTE, FAIL);
    for (let i = 0; i < 1000; i++) e.process(auth("login_failure", `10.0.${i >> 8}.${i & 255}`, i));
    expect(e.stats.evictedGroups).toBeGreaterThanOrEqual(900);
  });
});

describe("value_count", () => {
  it("counts distinct values of a field per group", () => {
    const spray = corr(`type: value_count
rules: [failed]
group-by: [SourceIp]
timespan: 5m
condition: {field: User, gte: 3}`);
    const e = engineFor({}, spray, FAIL);
    const evs = [auth("login_failure", "1.1.1.1", 0, "a"), auth("login_failure", "1.1.1.1", 1000, "a"), auth("login_failure", "1.1.1.1", 2000, "b")];
    expect(runAll(e, evs)).toHaveLength(0);
    const e2 = engineFor({}, spray, FAIL);
    const out = runAll(e2, [...evs, auth("login_failure", "1.1.1.1", 3000, "c")]);
    expect(out).toHaveLength(1);
    expect(out[0].eventCount).toBe(3);
  });
});

describe("temporal and temporal_ordered", () => {
  const T = (type: string) =>
    corr(`type: ${type}
rules: [failed, ok]
group-by: [User]
timespan: 5m`);
  it("temporal fires when all rules matched in the window, in any order", () => {
    const e = engineFor({}, T("temporal"), FAIL, OK);
    expect(runAll(e, [auth("login_success", "1.1.1.1", 0), auth("login_failure", "2.2.2.2", 60_000)])).toHaveLength(1);
    const far = engineFor({}, T("temporal"), FAIL, OK);
    expect(runAll(far, [auth("login_success", "1.1.1.1", 0), auth("login_failure", "2.2.2.2", 6 * MIN)])).toHaveLength(0);
    const other = engineFor({}, T("temporal"), FAIL, OK);
    expect(runAll(other, [auth("login_success", "1.1.1.1", 0, "x"), auth("login_failure", "2.2.2.2", 1, "y")])).toHaveLength(0);
  });
  it("temporal_ordered requires the written order", () => {
    const e = engineFor({}, T("temporal_ordered"), FAIL, OK);
    expect(runAll(e, [auth("login_success", "1.1.1.1", 0), auth("login_failure", "1.1.1.1", 1000)])).toHaveLength(0);
    const e2 = engineFor({}, T("temporal_ordered"), FAIL, OK);
    const out = runAll(e2, [auth("login_failure", "1.1.1.1", 0), auth("login_success", "1.1.1.1", 1000)]);
    expect(out).toHaveLength(1);
    expect(out[0].events.map((x) => x.fields.AuthAction)).toEqual(["login_failure", "login_success"]);
  });
  it("aliases group different fields of different rules together", () => {
    const conn = `title: conn\nid: conn\nname: conn\nlogsource: {product: linux, category: network_connection}\ndetection:\n    s:\n        Initiated: 'true'\n    condition: s\n`;
    const text = corr(`type: temporal_ordered
rules: [ok, conn]
group-by: [ip]
timespan: 5m
aliases:
    ip:
        ok: SourceIp
        conn: DestinationIp`);
    const e = engineFor({}, text, OK, conn);
    const net = (ip: string, t: number): SigmaEvent => ({ logsource: { product: "linux", category: "network_connection" }, fields: { Initiated: "true", DestinationIp: ip }, timeMs: t });
    const out = runAll(e, [auth("login_success", "9.9.9.9", 0), net("8.8.8.8", 1000), net("9.9.9.9", 2000)]);
    expect(out).toHaveLength(1);
    expect(out[0].groupBy).toEqual({ ip: "9.9.9.9" });
  });
  it("chains correlations and honours generate", () => {
    const seq = corr(
      `type: temporal_ordered
rules: [brute, ok]
group-by: [SourceIp]
timespan: 30m`,
      "generate: true\n",
    ).replace("id: corr", "id: seq");
    const brute = BRUTE.replace("id: corr", "id: brute\nname: brute");
    const e = engineFor({}, seq, brute, FAIL, OK);
    const out = runAll(e, [
      ...fails(
        "1.1.1.1",
        [0, 1, 2, 3, 4].map((m) => m * MIN),
      ),
      auth("login_success", "1.1.1.1", 6 * MIN),
    ]);
    // generate: true lets the referenced rules alert too: the brute-force correlation and the success.
    expect(out.map((m) => m.rule.id).sort()).toEqual(["brute", "ok", "seq"]);
    expect(out.find((m) => m.rule.id === "seq")!.events).toHaveLength(6);
    const { ruleset } = compileRules([seq.replace("generate: true\n", ""), brute, FAIL, OK].map((text, i) => ({ name: `${i}`, text })));
    expect(ruleset.rules.filter((r) => r.generates).map((r) => r.id)).toEqual(["seq"]);
  });
  it("refuses a correlation that references an unknown rule, naming the line", () => {
    const { errors } = compileRules([{ name: "c.yml", text: BRUTE.replace("[failed]", "[nope]") }]);
    expect(errors[0]).toMatchObject({ source: "c.yml", id: "corr", feature: "correlation reference", line: 6 });
  });
  it("refuses unsupported correlation types and bad timespans", () => {
    const { errors } = compileRules([
      { name: "a.yml", text: BRUTE.replace("event_count", "value_median") + "---\n" + FAIL },
      { name: "b.yml", text: BRUTE.replace("10m", "ten minutes").replace("id: corr", "id: c2") },
    ]);
    expect(errors.map((e) => e.feature)).toEqual(["correlation type 'value_median'", "timespan"]);
  });
});

describe("enable/disable", () => {
  it("disables a rule by id without recompiling", () => {
    const e = engineFor({}, BRUTE, FAIL);
    expect(e.setEnabled("corr", false)).toBe(true);
    expect(
      runAll(
        e,
        fails(
          "1.1.1.1",
          [0, 1, 2, 3, 4].map((m) => m * MIN),
        ),
      ),
    ).toHaveLength(0);
    e.setEnabled("corr", true);
    expect(
      runAll(
        e,
        fails(
          "1.1.1.1",
          [20, 21, 22, 23, 24].map((m) => m * MIN),
        ),
      ),
    ).toHaveLength(1);
    expect(e.setEnabled("unknown", false)).toBe(false);
  });
});
