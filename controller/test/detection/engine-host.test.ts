/**
 * The detection worker host on its own (a real worker thread): matches come back in event order
 * with their metadata, a stuck event is skipped and named, the worker restarts from the rules in
 * force (uploads and analyst switches included), and the events after the stuck one are matched.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { SigmaEvent } from "@vigil/detection";
import { EngineHost, type BudgetExceeded } from "../../src/detection/engine-host";
import type { RuleSource, WorkItem } from "../../src/detection/engine-protocol";
import { eventMeta } from "../../src/detection/event-meta";

const rule = (id: string, sel: string): string =>
  `title: ${id}\nid: ${id}\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  sel:\n    ${sel}\n  condition: sel\nlevel: high\n`;

// As toSigmaEvent maps them: every event names its agent.
const proc = (agentId: string, commandLine: string, timeMs: number): SigmaEvent => ({
  logsource: { product: "linux", category: "process_creation" },
  fields: { AgentId: agentId, CommandLine: commandLine, Image: "/usr/bin/x" },
  timeMs,
});
const item = (agentId: string, commandLine: string, timeMs: number, note = ""): WorkItem => ({
  agentId,
  ev: proc(agentId, commandLine, timeMs),
  meta: { iocHits: note ? [{ kind: "ip", value: note, confidence: 50, source: "t" }] : [] },
});

describe("EngineHost (detection worker)", () => {
  let host: EngineHost | undefined;
  afterEach(async () => host?.close());

  function start(uploaded: RuleSource[], overrides = new Map<string, boolean>(), budgetMs = 100) {
    const exceeded: BudgetExceeded[] = [];
    const errors: unknown[] = [];
    host = new EngineHost({ reorderToleranceMs: 1000, budgetMs, rules: () => ({ uploaded, overrides }), onBudgetExceeded: (e) => exceeded.push(e), onError: (e) => errors.push(e) });
    return { host, exceeded, errors };
  }

  it("returns matches in event order, with each event's metadata carried across the thread", async () => {
    const { host } = start([{ name: "a.yml", text: rule("evil", "CommandLine|contains: evil") }]);
    const { matches: out } = await host.process([item("a1", "evil one", 1, "192.0.2.1"), item("a2", "benign", 2), item("a2", "evil two", 3, "192.0.2.2")], Date.now());
    expect(out.map((m) => [m.agentId, m.match.rule.id, m.match.events[0].fields.CommandLine])).toEqual([
      ["a1", "evil", "evil one"],
      ["a2", "evil", "evil two"],
    ]);
    expect(eventMeta(out[1].match.events[0])?.iocHits[0].value).toBe("192.0.2.2");
  });

  it("skips a stuck event, names its rule, restarts from the rules in force and matches what follows", async () => {
    const stuck = rule("stuck", `CommandLine:\n${Array.from({ length: 12 }, (_, i) => `      - '*${"b?".repeat(8000 + i)}c*'`).join("\n")}`);
    const overrides = new Map([["off", false]]);
    const { host, exceeded } = start(
      [
        { name: "s.yml", text: stuck },
        { name: "e.yml", text: rule("evil", "CommandLine|contains: evil") },
        { name: "o.yml", text: rule("off", "CommandLine|contains: quiet") },
      ],
      overrides,
    );
    const { matches: out } = await host.process([item("a1", "evil before", 1), item("a1", "b".repeat(32 * 1024), 2), item("a1", "evil after quiet", 3)], Date.now());
    expect(out.map((m) => m.match.events[0].fields.CommandLine)).toEqual(["evil before", "evil after quiet"]);
    // the disabled rule stayed disabled in the restarted worker
    expect(out.map((m) => m.match.rule.id)).toEqual(["evil", "evil"]);
    expect(exceeded).toHaveLength(1);
    expect(exceeded[0]).toMatchObject({ agentId: "a1", ruleId: "stuck", ruleTitle: "stuck", skipped: true, restarted: true });
    expect(exceeded[0].ms).toBeGreaterThanOrEqual(200);
    expect(host.stats).toMatchObject({ restarts: 1, skipped: 1, overBudget: 1, busy: false });

    // A rule uploaded and a switch flipped after the restart reach the new worker (and its spare).
    host.rulesChanged([
      { name: "e.yml", text: rule("evil", "CommandLine|contains: evil") },
      { name: "n.yml", text: rule("new", "CommandLine|contains: fresh") },
    ]);
    host.setEnabled("evil", false);
    const { matches: later } = await host.process([item("a1", "evil fresh", 4)], Date.now());
    expect(later.map((m) => m.match.rule.id)).toEqual(["new"]);
  });

  it("routes correlation inputs out, runs the owned groups' windows and flushes held correlations from the worker", async () => {
    // An upper bound is decided at window close: held in the worker until the flush.
    const corr = `title: C\nid: c1\ncorrelation:\n  type: event_count\n  rules: [evil]\n  group-by: [Image]\n  timespan: 1m\n  condition: { gte: 2, lt: 10 }\n`;
    // A lower bound fires early, from the batch that completes it.
    const early = `title: E\nid: e1\ncorrelation:\n  type: event_count\n  rules: [evil]\n  group-by: [Image]\n  timespan: 1m\n  condition: { gte: 2 }\n`;
    const { host } = start([
      { name: "e.yml", text: rule("evil", "CommandLine|contains: evil") },
      { name: "c.yml", text: corr },
      { name: "x.yml", text: early },
    ]);
    const t0 = Date.now();
    // Matching holds no correlation state: each evil event leaves as one input per correlation, keyed by group.
    const { matches, routed } = await host.process([item("a1", "evil 1", t0), item("a2", "evil 2", t0 + 1000)], t0);
    expect(matches).toEqual([]);
    expect(routed.map((r) => [r.agentId, r.rule, r.target, r.key])).toEqual([
      ["a1", "evil", "c1", 'c1|["/usr/bin/x"]'],
      ["a1", "evil", "e1", 'e1|["/usr/bin/x"]'],
      ["a2", "evil", "c1", 'c1|["/usr/bin/x"]'],
      ["a2", "evil", "e1", 'e1|["/usr/bin/x"]'],
    ]);
    // As the owner of every group: two hosts' inputs make one group, which fires early.
    const now = await host.correlate(
      routed.map((r) => ({ ...r, partition: 0 })),
      t0,
    );
    expect(now.flatMap((g) => g.matches.map((m) => [g.agentId, m.rule.id, m.events.length]))).toEqual([["a2", "e1", 2]]);
    expect(host.stats.engines).toBe(2);
    const flushed = await host.flushAll(t0);
    expect(flushed.flatMap((g) => g.matches.map((m) => [g.agentId, m.rule.id]))).toEqual([["a2", "c1"]]);
  });
});
