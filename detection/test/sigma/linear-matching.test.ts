/**
 * Issue #10, class 1: a rule value, an uploaded `|re` or a suppression pattern must not let a
 * host-controlled value (a command line, up to 32 KiB) cost more than linear time. Each case
 * below froze a backtracking RegExp for seconds to years; here the cost is counted (glob steps)
 * or compared as the hostile value doubles, never held to a wall-clock threshold.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSuppressed, validateSuppression, type Suppression } from "../../src/noise/suppression";
import { compileRules, DetectionEngine, Glob, parseWildcard, type StepMeter } from "../../src/sigma";
import { compileOk, proc, procRule } from "./helpers";

const KIB32 = 32 * 1024;
const manyStars = (k: number): string => "*a".repeat(k) + "*b";

/**
 * CPU microseconds for one call of `f`, from enough back-to-back calls to span a few milliseconds
 * (one call of a linear check on 32 KiB is microseconds, below the clock's and scheduler's noise).
 * CPU time, not wall time: other processes on a loaded CI machine delay this one without making
 * its work longer.
 */
function perCall(f: () => void, iterations: number): number {
  const t = process.cpuUsage();
  for (let i = 0; i < iterations; i++) f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / iterations;
}

/** Smallest per-call time of `runs` samples (the least disturbed by other load). */
function bestTime(f: () => void, iterations: number, runs = 7): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) best = Math.min(best, perCall(f, iterations));
  return best;
}

/**
 * How much longer `check(make(2n))` takes than `check(make(n))`: about 2 for linear, 4 for quadratic,
 * astronomic for exponential. Inputs are built before timing; each sample spans ≥ 5 ms of CPU;
 * of up to 3 trials the lowest ratio counts, because other load can only make a ratio look worse,
 * while a super-linear matcher is worse in every trial.
 */
function doublingRatio<T>(make: (n: number) => T, check: (value: T) => void, n: number): number {
  const small = make(n);
  const large = make(2 * n);
  check(small); // warm up (JIT, RE2's DFA cache)
  check(large);
  let iterations = 1;
  while (perCall(() => check(small), iterations) * iterations < 5_000 && iterations < 1 << 16) iterations *= 2;
  let best = Infinity;
  for (let trial = 0; trial < 3 && best >= 3.5; trial++) {
    best = Math.min(best, bestTime(() => check(large), iterations) / bestTime(() => check(small), iterations));
  }
  return best;
}

describe("wildcards run in linear time (glob matcher, no backtracking)", () => {
  it("counts steps proportional to the value for `*a*a…*b` patterns, whatever the number of stars", () => {
    for (const pattern of [manyStars(20), "*aab*aab*aab*aab*aab*", "?*a?a*a?a*b*?", `*${"a?".repeat(40)}b*`, `*${"?a".repeat(40)}*${"a?".repeat(40)}b*`]) {
      const g = new Glob(parseWildcard(pattern), true);
      const steps = (n: number): number => {
        const m: StepMeter = { steps: 0 };
        expect(g.test("a".repeat(n), m)).toBe(false);
        return m.steps;
      };
      const s1 = steps(KIB32);
      const s2 = steps(2 * KIB32);
      expect(s1).toBeLessThanOrEqual(KIB32 * pattern.length);
      expect(s2 / Math.max(s1, 1)).toBeLessThanOrEqual(2.1);
    }
  });

  it("agrees with the backtracking RegExp it replaces on random short patterns and values", () => {
    const escapeRe = (x: string): string => x.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
    const alphabet = fc.constantFrom("a", "b", "A", "-", "*", "?", "\\");
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 8 }), fc.array(fc.constantFrom("a", "b", "A", "-", "*", "?", "\\", "c"), { maxLength: 12 }), (p, v) => {
        const pattern = p.join("");
        const value = v.join("");
        const parts = parseWildcard(pattern);
        let src = "^";
        for (const part of parts) src += part.t === "star" ? "[\\s\\S]*" : part.t === "one" ? "[\\s\\S]" : part.t === "lit" ? escapeRe(part.v) : "";
        const expected = new RegExp(src + "$", "i").test(value);
        expect(new Glob(parts, true).test(value.toLowerCase())).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it("keeps glob semantics: leftmost segments, anchors, ? and escapes", () => {
    const t = (p: string, v: string): boolean => new Glob(parseWildcard(p), true).test(v.toLowerCase());
    expect(t("*a*a*b", "xaxaxb")).toBe(true);
    expect(t("*a*a*b", "xaxb")).toBe(false);
    expect(t("ab*ab", "ab")).toBe(false); // prefix and suffix may not overlap
    expect(t("ab*ab", "abab")).toBe(true);
    expect(t("a?c*", "ABCdef")).toBe(true);
    expect(t("*", "")).toBe(true);
    expect(t("", "")).toBe(true);
    expect(t("", "x")).toBe(false);
    expect(t("a\\*b", "a*b")).toBe(true);
    expect(t("a\\*b", "axb")).toBe(false);
    expect(t("**x**", "yyx")).toBe(true);
  });

  it("a built-in-style rule with many wildcards stays linear through the engine on a 32 KiB command line", () => {
    const engine = new DetectionEngine(compileOk(procRule(`CommandLine: '${manyStars(15)}'`)));
    const hostile = (value: ReturnType<typeof proc>): void => {
      expect(engine.process(value)).toHaveLength(0);
    };
    expect(doublingRatio((n) => proc({ CommandLine: "a".repeat(n) + "c" }), hostile, KIB32)).toBeLessThan(3.5);
    // and it still matches what it should
    expect(engine.process(proc({ CommandLine: "a".repeat(100) + "b" }))).toHaveLength(1);
  });

  it("windash and ? values (the glob path) match as before", () => {
    const engine = new DetectionEngine(compileOk(procRule(`CommandLine|windash|contains: ' -e?c '`)));
    expect(engine.process(proc({ CommandLine: "powershell /ex AAA" }))).toHaveLength(0);
    expect(engine.process(proc({ CommandLine: "powershell x-enc AAA" }))).toHaveLength(0);
    expect(engine.process(proc({ CommandLine: "powershell /eXc AAA" }))).toHaveLength(1);
    expect(engine.process(proc({ CommandLine: "powershell \u2013exc AAA" }))).toHaveLength(1);
  });
});

describe("`|re` runs on RE2 (linear time)", () => {
  it("accepts an uploaded '^(a+)+$' and matches a 32 KiB hostile value in linear time", () => {
    const engine = new DetectionEngine(compileOk(procRule(`CommandLine|re: '^(a+)+$'`)));
    const hostile = (value: ReturnType<typeof proc>): void => {
      expect(engine.process(value)).toHaveLength(0);
    };
    expect(doublingRatio((n) => proc({ CommandLine: "a".repeat(n) + "!" }), hostile, KIB32)).toBeLessThan(3.5);
    expect(engine.process(proc({ CommandLine: "aaaa" }))).toHaveLength(1);
  });

  it("stays linear on nested alternations", () => {
    const engine = new DetectionEngine(compileOk(procRule(`CommandLine|re: '^(a|aa)+$'`)));
    const hostile = (value: ReturnType<typeof proc>): void => {
      expect(engine.process(value)).toHaveLength(0);
    };
    expect(doublingRatio((n) => proc({ CommandLine: "a".repeat(n) + "!" }), hostile, KIB32)).toBeLessThan(3.5);
  });

  it.each([
    ["(a)\\1", "regex backreference"],
    ["(?<n>a)\\k<n>", "regex backreference"],
    ["foo(?=bar)", "regex lookaround"],
    ["foo(?!bar)", "regex lookaround"],
    ["(?<=foo)bar", "regex lookaround"],
    ["(?<!foo)bar", "regex lookaround"],
    ["(?>a+)b", "regex atomic/possessive"],
    ["a++b", "regex atomic/possessive"],
    ["(?x) a b", "modifier 're'"],
    ["a{1001}", "modifier 're'"],
  ])("refuses %s at compile time with the line and reason", (pattern, feature) => {
    const yaml = procRule(`CommandLine|re: '${pattern}'`);
    const { ruleset, errors } = compileRules([{ name: "up.yml", text: yaml }]);
    expect(ruleset.rules).toHaveLength(0);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ source: "up.yml", id: "r1", line: 8, feature });
    expect(errors[0].message).toMatch(/RE2|backtracking|not supported/);
  });

  it("refuses a pattern longer than 8 KiB", () => {
    const { errors } = compileRules([{ name: "up.yml", text: procRule(`CommandLine|re: '${"a".repeat(9000)}'`) }]);
    expect(errors[0]).toMatchObject({ feature: "regex length" });
  });

  it("keeps PCRE spellings Sigma rules use: (?i), (?P<n>), \\A, \\Z, \\u, escaped class members", () => {
    const m = (re: string, v: string): boolean => new DetectionEngine(compileOk(procRule(`CommandLine|re: '${re}'`))).process(proc({ CommandLine: v })).length > 0;
    expect(m("(?i)^CURL", "curl x")).toBe(true);
    expect(m("(?P<x>wget)\\s", "wget http")).toBe(true);
    expect(m("\\Acurl", "curl")).toBe(true);
    expect(m("curl\\Z", "x curl\n")).toBe(true);
    expect(m("curl\\Z", "x curl y")).toBe(false);
    expect(m("\\u0041B", "AB")).toBe(true);
    expect(m("[\\]a]+$", "]a]")).toBe(true);
    expect(m("[]a]\\(", "](")).toBe(true);
    expect(m("a\\/b", "a/b")).toBe(true);
  });
});

describe("suppression patterns are linear", () => {
  it("a `*a*a…*b` suppression on a 32 KiB hostile value costs linear time", () => {
    const s: Suppression = { id: "s", fields: { CommandLine: manyStars(20) }, reason: "attack" };
    const check = (value: string): void => {
      expect(isSuppressed([s], { ruleId: "r", fields: { CommandLine: value } }, 0)).toBeUndefined();
    };
    expect(doublingRatio((n) => "a".repeat(n), check, KIB32)).toBeLessThan(3.5);
    expect(isSuppressed([s], { ruleId: "r", fields: { CommandLine: "x" + "a".repeat(20) + "b" } }, 0)?.id).toBe("s");
  });

  it("refuses patterns over 1024 characters (the cost bound)", () => {
    const long = "*a".repeat(600);
    const v = validateSuppression({ id: "s", ruleId: long, fields: { CommandLine: long }, reason: "x" });
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.map((e) => e.field).sort()).toEqual(["fields.CommandLine", "ruleId"]);
  });

  it("a rule-id wildcard is matched by the same glob", () => {
    const s: Suppression = { id: "s", ruleId: manyStars(30), reason: "attack" };
    const g = new Glob(parseWildcard(manyStars(30)), true);
    const m: StepMeter = { steps: 0 };
    expect(g.test("a".repeat(2000), m)).toBe(false);
    expect(m.steps).toBeLessThanOrEqual(2000 * 62);
    expect(isSuppressed([s], { ruleId: "a".repeat(2000), fields: {} }, 0)).toBeUndefined();
  });
});
