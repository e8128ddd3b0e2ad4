import { describe, expect, it } from "vitest";
import { compileRules, DetectionEngine, loadRuleSources, BUILTIN_RULES } from "../../src/sigma";
import { EventView } from "../../src/sigma/event-view";
import { join } from "node:path";

// The prefilter may only skip rules that cannot match: compare the engine with evaluating every
// rule on every event, over events built from the rules' own literals so that many do match.
describe("prefilter", () => {
  it("never loses a match compared with evaluating every rule", () => {
    const sources = [...BUILTIN_RULES, ...loadRuleSources(join(__dirname, "../fixtures/sigmahq-linux"))];
    const { ruleset } = compileRules(sources);
    const lits = [...new Set(sources.flatMap((s) => [...s.text.matchAll(/'([^'\n]{2,60})'/g)].map((m) => m[1])))];
    let seed = 7;
    const pick = (): string => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return lits[seed % lits.length];
    };
    const categories = ["process_creation", "file_event", "network_connection"];
    let matched = 0;
    const engine = new DetectionEngine(ruleset);
    // Correlations (e.g. the built-in discovery burst) are out of scope here: only single-event rules are prefiltered.
    const single = new Set(ruleset.compiled.filter((r) => r.detection).map((r) => r.info.id));
    for (let i = 0; i < 3000; i++) {
      const fields = {
        Image: `/usr/bin${pick()}`,
        CommandLine: `${pick()} ${pick()}${pick()} ${pick()}`,
        ParentImage: pick(),
        TargetFilename: pick() + pick(),
        DestinationHostname: pick(),
        User: "root",
        LogonId: 0,
      };
      const ev = { logsource: { product: "linux", category: categories[i % 3] }, fields, timeMs: i };
      const got = engine
        .process(ev)
        .map((m) => m.rule.id)
        .filter((id) => single.has(id))
        .sort();
      const view = new EventView(fields);
      const want = ruleset.compiled
        .filter((r) => r.detection && r.info.generates && r.logsource.category === ev.logsource.category && r.detection.test(view))
        .map((r) => r.info.id)
        .sort();
      expect(got).toEqual(want);
      matched += want.length;
    }
    expect(matched).toBeGreaterThan(100);
  });
});
