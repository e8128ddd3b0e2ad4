import { describe, expect, it } from "vitest";
import { compileRules, formatRuleError, validateRuleDir } from "../../src/sigma";
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const good = `title: Good
id: g1
logsource: {product: linux, category: process_creation}
detection:
    selection:
        Image|endswith: /nc
    condition: selection
`;

describe("refused rules", () => {
  it("names rule, line and feature of an unknown modifier; other rules still compile", () => {
    const bad = `title: Bad modifier
id: b1
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        Image|endswith: /x
        CommandLine|sounds_like: foo
    condition: selection
`;
    const { ruleset, errors } = compileRules([
      { name: "bad.yml", text: bad },
      { name: "good.yml", text: good },
    ]);
    expect(ruleset.rules.map((r) => r.id)).toEqual(["g1"]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ source: "bad.yml", title: "Bad modifier", id: "b1", line: 9, feature: "modifier 'sounds_like'" });
    expect(formatRuleError(errors[0])).toBe("bad.yml:9: rule 'Bad modifier' (b1) [modifier 'sounds_like'] unknown value modifier 'sounds_like'");
  });
  it("reports broken YAML with its line and keeps the other documents", () => {
    const text = `${good}---\ntitle: Broken\ndetection:\n  selection: [unclosed\n  condition: selection\n---\n${good.replace("g1", "g2")}`;
    const { ruleset, errors } = compileRules([{ name: "multi.yml", text }]);
    expect(ruleset.rules.map((r) => r.id)).toEqual(["g1", "g2"]);
    expect(errors).toHaveLength(1);
    expect(errors[0].feature).toBe("YAML syntax");
    expect(errors[0].line).toBeGreaterThanOrEqual(9);
  });
  it.each([
    ["missing title", good.replace("title: Good\n", ""), "title"],
    ["missing logsource", good.replace(/logsource.*\n/, ""), "logsource"],
    ["bad regex", good.replace("Image|endswith: /nc", "Image|re: '(unclosed'"), "modifier 're'"],
    ["bad cidr", good.replace("Image|endswith: /nc", "DestinationIp|cidr: 10.0.0.0/33"), "modifier 'cidr'"],
    ["numeric with text", good.replace("Image|endswith: /nc", "Port|gt: many"), "modifier 'gt'"],
    ["base64 with wildcard", good.replace("Image|endswith: /nc", "X|base64: 'a*b'"), "wildcard in encoded value"],
    ["bad level", good + "level: severe\n", "level"],
    ["legacy timeframe", good.replace("    condition", "    timeframe: 5m\n    condition"), "timeframe"],
  ])("refuses %s", (_n, text, feature) => {
    const { ruleset, errors } = compileRules([{ name: "r.yml", text }]);
    expect(ruleset.rules).toHaveLength(0);
    expect(errors[0]).toMatchObject({ source: "r.yml", feature });
    expect(errors[0].line).toBeGreaterThan(0);
  });
  it("refuses duplicate ids", () => {
    const { ruleset, errors } = compileRules([
      { name: "a.yml", text: good },
      { name: "b.yml", text: good },
    ]);
    expect(ruleset.rules).toHaveLength(1);
    expect(errors[0]).toMatchObject({ source: "b.yml", feature: "duplicate id", line: 2 });
  });
});

describe("validateRuleDir", () => {
  it("prints one line per refused rule and a closing count", () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-rules-"));
    try {
      mkdirSync(join(dir, "sub"));
      writeFileSync(join(dir, "good.yml"), good);
      writeFileSync(join(dir, "sub", "bad.yaml"), good.replace("g1", "g9").replace("/nc", "/nc\n        X|nope: 1"));
      writeFileSync(join(dir, "notes.txt"), "not a rule");
      const r = validateRuleDir(dir);
      expect(r.lines).toHaveLength(2);
      expect(r.lines[0]).toMatch(/^sub\/bad\.yaml:7: rule 'Good' \(g9\) \[modifier 'nope'\]/);
      expect(r.lines[1]).toBe("compiled 1, refused 1");
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
  it("compiles at least 95% of the public Linux sample rules", () => {
    const r = validateRuleDir(join(__dirname, "../fixtures/sigmahq-linux"));
    expect(r.compiled + r.refused).toBeGreaterThan(50);
    expect(r.compiled / (r.compiled + r.refused)).toBeGreaterThanOrEqual(0.95);
  });
});
