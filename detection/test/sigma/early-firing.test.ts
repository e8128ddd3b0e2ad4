/**
 * Early-firing correlations against out-of-order and late arrival: every correlation type,
 * live (arrival order, events up to the tolerance late) against replay (time order), checked
 * with random streams (fast-check) and against a brute-force oracle of "the condition holds
 * over the events in hand".
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileRules, DetectionEngine, type Match, type SigmaEvent } from "../../src/sigma";
import { compileOk, finalAlerts } from "./helpers";

const det = (name: string, action: string): string => `title: ${name}
id: ${name}
name: ${name}
logsource: {product: linux, service: sshd}
detection:
    selection:
        AuthAction: ${action}
    condition: selection
`;
const corr = (id: string, body: string): string => `title: ${id}
id: ${id}
name: ${id}
level: high
correlation:
${body
  .trim()
  .split("\n")
  .map((l) => "    " + l)
  .join("\n")}
`;
const T = 60_000;
const RULES = [
  det("fail", "login_failure"),
  det("ok", "login_success"),
  det("out", "logout"),
  corr("count", `type: event_count\nrules: [fail]\ngroup-by: [SourceIp]\ntimespan: 1m\ncondition: {gte: 3}`),
  corr("spray", `type: value_count\nrules: [fail]\ngroup-by: [SourceIp]\ntimespan: 1m\ncondition: {field: User, gt: 1}`),
  corr("all3", `type: temporal\nrules: [fail, ok, out]\ngroup-by: [SourceIp]\ntimespan: 1m`),
  corr("seq3", `type: temporal_ordered\nrules: [fail, ok, out]\ngroup-by: [SourceIp]\ntimespan: 1m`),
  corr("bytes", `type: value_sum\nrules: [ok]\ngroup-by: [SourceIp]\ntimespan: 1m\ncondition: {field: BytesSent, gte: 400}`),
  // A chain of early firings: a burst, then a success.
  `${corr("burst", `type: event_count\nrules: [fail]\ngroup-by: [SourceIp]\ntimespan: 1m\ncondition: {gte: 2}`)}`,
  `generate: true\n${corr("cracked", `type: temporal_ordered\nrules: [burst, ok]\ngroup-by: [SourceIp]\ntimespan: 1m`)}`,
  // An at-window-close rule over an early one's hits.
  corr("fewbursts", `type: event_count\nrules: [burst]\ngroup-by: [SourceIp]\ntimespan: 1m\ncondition: {gte: 1, lte: 2}`),
  // At window close: upper bound, average, share.
  corr("few", `type: event_count\nrules: [fail]\ngroup-by: [SourceIp]\ntimespan: 1m\ncondition: {gte: 1, lt: 3}`),
  corr("avg", `type: value_avg\nrules: [ok]\ngroup-by: [SourceIp]\ntimespan: 1m\ncondition: {field: BytesSent, gt: 150}`),
  corr("rare", `type: value_percentile\nrules: [fail]\ngroup-by: [SourceIp]\ntimespan: 1m\ncondition: {field: User, lte: 20}`),
];
const EARLY = ["count", "spray", "all3", "seq3", "bytes", "burst", "cracked"];
const ACTIONS = ["login_failure", "login_success", "logout"];

const ruleset = compileOk(...RULES);

interface Gen {
  t: number;
  ip: number;
  user: number;
  action: number;
  bytes: number;
  delay: number;
}
const toEvent = (g: Gen, i: number): SigmaEvent => ({
  logsource: { product: "linux", category: "authentication", service: "sshd" },
  fields: { n: i, AuthAction: ACTIONS[g.action], SourceIp: `10.0.0.${g.ip}`, User: `u${g.user}`, BytesSent: g.bytes },
  timeMs: g.t,
});

/** A stream over three minutes, timestamps on a 5 s grid so that ties happen, and an arrival delay below the tolerance. */
const streams = (tolerance: number) =>
  fc.array(
    fc.record({
      t: fc.integer({ min: 0, max: 36 }).map((x) => x * 5_000),
      ip: fc.integer({ min: 1, max: 2 }),
      user: fc.integer({ min: 1, max: 3 }),
      action: fc.integer({ min: 0, max: 2 }),
      bytes: fc.integer({ min: 0, max: 300 }),
      delay: fc.integer({ min: 0, max: tolerance - 1 }),
    }),
    { minLength: 1, maxLength: 40 },
  );

/** Live: arrival order is event time + delay (stable); returns every match with the call it came from. */
function live(evs: SigmaEvent[], delays: number[], tolerance: number): { matches: Match[]; from: ("process" | "advance")[]; arrival: SigmaEvent[] } {
  const engine = new DetectionEngine(ruleset, { outOfOrderToleranceMs: tolerance });
  const arrival = evs
    .map((e, i) => ({ e, at: e.timeMs + delays[i] }))
    .sort((a, b) => a.at - b.at)
    .map((x) => x.e);
  const matches: Match[] = [];
  const from: ("process" | "advance")[] = [];
  const take = (ms: Match[], how: "process" | "advance") => {
    for (const m of ms) {
      matches.push(m);
      from.push(how);
    }
  };
  for (const e of arrival) take(engine.process(e), "process");
  take(engine.advanceTo(Math.max(...evs.map((e) => e.timeMs)) + tolerance + 2 * T), "advance");
  expect(engine.stats.lateEvents).toBe(0);
  return { matches, from, arrival };
}

/** Replay: the same events sorted by event time (stable, so ties keep their arrival order), then a flush. */
function replay(arrival: SigmaEvent[]): Match[] {
  const engine = new DetectionEngine(ruleset);
  const sorted = arrival
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.timeMs - b.e.timeMs || a.i - b.i)
    .map((x) => x.e);
  return [...sorted.flatMap((e) => engine.process(e)), ...engine.flush()];
}

const describeAll = (ms: Match[]): string[] =>
  finalAlerts(ms.filter((m) => m.kind === "correlation"))
    .map((m) => `${m.rule.id} ${JSON.stringify(m.groupBy)} t=${m.timeMs} n=${m.eventCount} ev=${m.events.map((e) => e.fields.n).join(",")}`)
    .sort();

/**
 * Oracle for the counting types: the (rule, ip, span) that have a hit among the events in hand.
 * An entry's window: same ip, time within the timespan before it, and not after it in (time, arrival) order.
 */
function oracle(inHand: SigmaEvent[]): Set<string> {
  const out = new Set<string>();
  const fails = inHand.map((e, seq) => ({ e, seq })).filter((x) => x.e.fields.AuthAction === "login_failure");
  const all = inHand.map((e, seq) => ({ e, seq }));
  const windowOf = (list: { e: SigmaEvent; seq: number }[], x: { e: SigmaEvent; seq: number }) =>
    list.filter((y) => y.e.fields.SourceIp === x.e.fields.SourceIp && y.e.timeMs >= x.e.timeMs - T && (y.e.timeMs < x.e.timeMs || (y.e.timeMs === x.e.timeMs && y.seq <= x.seq)));
  const add = (rule: string, x: { e: SigmaEvent }) => out.add(`${rule} ${String(x.e.fields.SourceIp)} ${Math.floor(x.e.timeMs / T)}`);
  for (const x of fails) {
    const w = windowOf(fails, x);
    if (w.length >= 3) add("count", x);
    if (new Set(w.map((y) => y.e.fields.User)).size > 1) add("spray", x);
  }
  for (const x of all) {
    if (new Set(windowOf(all, x).map((y) => y.e.fields.AuthAction)).size === 3) add("all3", x);
  }
  const oks = all.filter((x) => x.e.fields.AuthAction === "login_success");
  for (const x of oks) if (windowOf(oks, x).reduce((a, y) => a + (y.e.fields.BytesSent as number), 0) >= 400) add("bytes", x);
  return out;
}

describe("early-firing correlations: live against replay", () => {
  it("every correlation type: live (out of order within the tolerance) ends with exactly the replay's alerts, none twice", () => {
    fc.assert(
      fc.property(streams(30_000), (gens) => {
        const evs = gens.map(toEvent);
        const l = live(
          evs,
          gens.map((g) => g.delay),
          30_000,
        );
        // finalAlerts throws on a second firing for one (rule, group, span) and on an update with nothing to update.
        expect(describeAll(l.matches)).toEqual(describeAll(replay(l.arrival)));
      }),
      { numRuns: 300 },
    );
  });

  it("early rules alert in the call that brings the event completing them, exactly when the events in hand first hold the condition", () => {
    fc.assert(
      fc.property(streams(30_000), (gens) => {
        const evs = gens.map(toEvent);
        const engine = new DetectionEngine(ruleset, { outOfOrderToleranceMs: 30_000 });
        const arrival = evs
          .map((e, i) => ({ e, at: e.timeMs + gens[i].delay }))
          .sort((a, b) => a.at - b.at)
          .map((x) => x.e);
        const fired = new Set<string>();
        arrival.forEach((e, i) => {
          for (const m of engine.process(e)) {
            if (m.kind !== "correlation" || m.update || !["count", "spray", "all3", "bytes"].includes(m.rule.id)) continue;
            fired.add(`${m.rule.id} ${String(m.groupBy!.SourceIp)} ${m.dedupWindow!.startMs / T}`);
          }
          expect([...fired].sort()).toEqual([...oracle(arrival.slice(0, i + 1))].sort());
        });
      }),
      { numRuns: 300 },
    );
  });

  it("early rules never wait for a tick; at-window-close rules never fire before their window has passed by the tolerance", () => {
    fc.assert(
      fc.property(streams(30_000), (gens) => {
        const evs = gens.map(toEvent);
        const l = live(
          evs,
          gens.map((g) => g.delay),
          30_000,
        );
        l.matches.forEach((m, i) => {
          if (m.kind !== "correlation") return;
          if (EARLY.includes(m.rule.id) && !m.update) expect(l.from[i]).toBe("process");
          if (!EARLY.includes(m.rule.id)) expect(m.window).toBeDefined();
        });
      }),
      { numRuns: 100 },
    );
  });
});

describe("early-firing correlations: examples", () => {
  const fail = (ip: string, t: number, n: number): SigmaEvent => ({
    logsource: { product: "linux", service: "sshd" },
    fields: { n, AuthAction: "login_failure", SourceIp: ip, User: "root" },
    timeMs: t,
  });
  const BRUTE = compileOk(det("fail", "login_failure"), corr("brute", `type: event_count\nrules: [fail]\ngroup-by: [SourceIp]\ntimespan: 10m\ncondition: {gte: 5}`));

  it("a brute force alerts on its fifth attempt, once per ten-minute span however long it goes on", () => {
    const e = new DetectionEngine(BRUTE);
    const out = Array.from({ length: 40 }, (_, i) => e.process(fail("203.0.113.7", 1_000 + i * 20_000, i)));
    expect(out.findIndex((ms) => ms.length > 0)).toBe(4);
    // 40 attempts over 13 minutes: spans [0,10m) and [10m,20m).
    expect(out.flat().map((m) => m.dedupWindow!.startMs)).toEqual([0, 600_000]);
    expect(e.advanceTo(40 * 20_000 + 10 * 60_000 + 60_000)).toEqual([]);
  });

  it("a late attempt that completes the count fires at once; one that moves the first hit earlier updates the alert", () => {
    const e = new DetectionEngine(BRUTE, { outOfOrderToleranceMs: 60_000 });
    const times = [10_000, 20_000, 30_000, 40_000];
    expect(times.flatMap((t, i) => e.process(fail("198.51.100.1", t + 1_000, i)))).toEqual([]);
    // The 5th attempt arrives late and out of order (its time is before the others): fires now.
    const now = e.process(fail("198.51.100.1", 5_000, 4));
    expect(now).toHaveLength(1);
    expect(now[0]).toMatchObject({ timeMs: 41_000, eventCount: 5 });
    // Another, earlier still: the condition now first held at 31 s, over 5 attempts. Same alert, revised at settle.
    expect(e.process(fail("198.51.100.1", 4_000, 5))).toEqual([]);
    const settle = e.advanceTo(600_000 + 60_000);
    expect(settle).toHaveLength(1);
    expect(settle[0]).toMatchObject({ update: true, timeMs: 31_000, eventCount: 5, dedupWindow: { startMs: 0, endMs: 600_000 } });
  });

  it("an attempt later than tolerance + timespan is counted and not placed (no duplicate, no stale window)", () => {
    const e = new DetectionEngine(BRUTE, { outOfOrderToleranceMs: 1_000 });
    for (let i = 0; i < 5; i++) e.process(fail("192.0.2.9", 3_600_000 + i, i));
    expect(e.process(fail("192.0.2.9", 5, 9))).toEqual([]);
    expect(e.stats).toMatchObject({ lateEvents: 1, lateUnplaced: 1 });
  });

  it("an out-of-order flood from one source keeps bounded state (entries per group are capped and counted)", () => {
    const e = new DetectionEngine(BRUTE, { outOfOrderToleranceMs: 600_000 });
    // Alternating times force a re-evaluation on every other event; the cap bounds what each one scans.
    const out = Array.from({ length: 10_000 }, (_, i) => e.process(fail("192.0.2.66", 1_000_000 + (i % 2 ? i : 10_000 - i) * 20, i))).flat();
    expect(e.stats.evictedGroups).toBeGreaterThan(10_000 - 4_096 - 100);
    // Times run from 1,000 s to 1,200 s: the 10-minute spans [600 s, 1200 s) and [1200 s, 1800 s), one alert each.
    expect(
      out
        .filter((m) => !m.update)
        .map((m) => m.dedupWindow!.startMs)
        .sort((a, b) => a - b),
    ).toEqual([600_000, 1_200_000]);
  });

  it("inputs held across groups are capped too (least recently used groups go first), and detection carries on", () => {
    const e = new DetectionEngine(BRUTE, { maxBufferedEvents: 1_000 });
    for (let i = 0; i < 5_000; i++) e.process(fail(`10.9.${i >> 8}.${i & 255}`, 1_000 + i, i));
    expect(e.stats.evictedGroups).toBeGreaterThanOrEqual(4_000);
    const out = [0, 1, 2, 3, 4].flatMap((i) => e.process(fail("192.0.2.200", 10_000 + i, 10_000 + i)));
    expect(out.map((m) => m.groupBy)).toEqual([{ SourceIp: "192.0.2.200" }]);
  });

  it("value_sum fires early over a non-negative field; a negative value from a hostile host neither lowers the sum nor delays it", () => {
    const rules = compileOk(det("ok", "login_success"), corr("exfil", `type: value_sum\nrules: [ok]\ngroup-by: [User]\ntimespan: 1h\ncondition: {field: BytesSent, gte: 1000}`));
    const ev = (t: number, bytes: unknown, n: number): SigmaEvent => ({
      logsource: { product: "linux", service: "sshd" },
      fields: { n, AuthAction: "login_success", User: "eve", BytesSent: bytes },
      timeMs: t,
    });
    const e = new DetectionEngine(rules);
    expect([ev(0, 600, 0), ev(1_000, -1e12, 1), ev(2_000, "NaN", 2)].flatMap((x) => e.process(x))).toEqual([]);
    const out = e.process(ev(3_000, "400", 3));
    expect(out).toMatchObject([{ rule: { id: "exfil" }, timeMs: 3_000, eventCount: 2 }]);
    expect(out[0].events.map((x) => x.fields.n)).toEqual([0, 3]);
  });

  it("the rules API view says which correlations fire early", () => {
    const { ruleset: rs } = compileRules(RULES.map((text, i) => ({ name: `r${i}.yml`, text })));
    const firing = Object.fromEntries(rs.rules.filter((r) => r.kind === "correlation").map((r) => [r.id, r.firing]));
    expect(firing).toEqual({
      count: "early",
      spray: "early",
      all3: "early",
      seq3: "early",
      bytes: "early",
      burst: "early",
      cracked: "early",
      few: "at_window_close",
      avg: "at_window_close",
      rare: "at_window_close",
      fewbursts: "at_window_close",
    });
  });
});
