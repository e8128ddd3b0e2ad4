import { describe, expect, it } from "vitest";
import { BUILTIN_RULES, CompileCache, compileRules, DetectionEngine } from "../../src/sigma";
import { proc, procRule } from "./helpers";

describe("incremental compilation (CompileCache)", () => {
  it("compiles only the source that changed; unchanged sources are reused and still link", () => {
    const cache = new CompileCache();
    const a = { name: "a.yml", text: procRule("Image|endswith: /nc").replace("id: r1", "id: ra") };
    const corr = {
      name: "c.yml",
      text: "title: C\nid: rc\ncorrelation:\n    type: event_count\n    rules: [ra]\n    group-by: [User]\n    timespan: 1m\n    condition: { gte: 2 }\n",
    };
    const first = compileRules([...BUILTIN_RULES, a, corr], { cache });
    expect(first.errors).toEqual([]);
    const builtinDocs = cache.compiledDocs - 2;
    expect(builtinDocs).toBeGreaterThan(10);

    // An upload of one more file compiles that file's document only.
    const b = { name: "b.yml", text: procRule("Image|endswith: /ncat").replace("id: r1", "id: rb") };
    const before = cache.compiledDocs;
    const second = compileRules([...BUILTIN_RULES, a, corr, b], { cache });
    expect(cache.compiledDocs - before).toBe(1);
    expect(second.ruleset.rules.map((r) => r.id)).toEqual(expect.arrayContaining(["ra", "rb", "rc"]));

    // Reused rules get fresh link state: the correlation still consumes ra, and ra stays silent.
    const engine = new DetectionEngine(second.ruleset);
    const ev = (t: number) => proc({ Image: "/usr/bin/nc", User: "u" }, t);
    expect(engine.process(ev(0)).map((m) => m.rule.id)).toEqual([]);
    expect([...engine.process(ev(1000)), ...engine.flush()].map((m) => m.rule.id)).toContain("rc");

    // A changed file is recompiled; a removed one is forgotten (deleting b compiles nothing).
    const edited = { ...a, text: a.text.replace("/nc", "/socat") };
    const n = cache.compiledDocs;
    compileRules([...BUILTIN_RULES, edited, corr], { cache });
    expect(cache.compiledDocs - n).toBe(1);
    const third = compileRules([...BUILTIN_RULES, edited, corr], { cache });
    expect(cache.compiledDocs - n).toBe(1);
    expect(third.ruleset.rules.some((r) => r.id === "rb")).toBe(false);
  });

  it("reports a cached refusal again on every compile", () => {
    const cache = new CompileCache();
    const bad = { name: "bad.yml", text: procRule("CommandLine|re: '(a)\\1'") };
    expect(compileRules([bad], { cache }).errors).toHaveLength(1);
    expect(compileRules([bad], { cache }).errors[0]).toMatchObject({ feature: "regex backreference", source: "bad.yml" });
  });
});
