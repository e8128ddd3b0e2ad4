import { describe, expect, it } from "vitest";
import { compileRules, DetectionEngine } from "../../src/sigma";
import { proc } from "./helpers";

const rule = (condition: string): string => `title: C
id: c1
logsource:
    product: linux
    category: process_creation
detection:
    sel_a:
        Image|endswith: /a
    sel_b:
        CommandLine|contains: bee
    filter_x:
        User: root
    _private:
        Image|endswith: /a
    condition: ${condition}
`;

function fires(condition: string, fields: Record<string, unknown>): boolean {
  const { ruleset, errors } = compileRules([{ name: "c.yml", text: rule(condition) }]);
  if (errors.length) throw new Error(errors[0].message);
  return new DetectionEngine(ruleset).process(proc(fields)).length === 1;
}

const A = { Image: "/bin/a" };
const AB = { Image: "/bin/a", CommandLine: "a bee" };
const ABroot = { ...AB, User: "root" };
const B = { CommandLine: "bee" };

describe("conditions", () => {
  it("and / or / not with precedence or < and < not", () => {
    expect(fires("sel_a and sel_b", AB)).toBe(true);
    expect(fires("sel_a and sel_b", A)).toBe(false);
    expect(fires("sel_a or sel_b", B)).toBe(true);
    expect(fires("sel_a and not filter_x", ABroot)).toBe(false);
    expect(fires("sel_a and not filter_x", AB)).toBe(true);
    // or binds loosest: sel_b or (sel_a and filter_x)
    expect(fires("sel_b or sel_a and filter_x", B)).toBe(true);
    expect(fires("sel_b or sel_a and filter_x", A)).toBe(false);
    expect(fires("not sel_a or sel_b", {})).toBe(true);
    expect(fires("NOT sel_a AND sel_b", B)).toBe(true);
  });
  it("parentheses override precedence", () => {
    expect(fires("(sel_b or sel_a) and filter_x", B)).toBe(false);
    expect(fires("(sel_b or sel_a) and filter_x", { ...B, User: "root" })).toBe(true);
    expect(fires("not (sel_a and sel_b)", A)).toBe(true);
  });
  it("1 of / all of a pattern", () => {
    expect(fires("1 of sel_*", B)).toBe(true);
    expect(fires("all of sel_*", B)).toBe(false);
    expect(fires("all of sel_*", AB)).toBe(true);
    expect(fires("all of sel_* and not 1 of filter_*", ABroot)).toBe(false);
  });
  it("1 of them / all of them skip identifiers starting with _", () => {
    expect(fires("1 of them", { User: "root" })).toBe(true);
    expect(fires("all of them", AB)).toBe(false); // filter_x missing
    expect(fires("all of them", ABroot)).toBe(true); // _private not needed beyond sel_a
  });
  it("a list of conditions is OR-ed", () => {
    const text = rule("x").replace("condition: x", "condition:\n        - sel_a and sel_b\n        - filter_x");
    const { ruleset, errors } = compileRules([{ name: "c.yml", text }]);
    expect(errors).toEqual([]);
    const e = new DetectionEngine(ruleset);
    expect(e.process(proc({ User: "root" }))).toHaveLength(1);
    expect(e.process(proc(A))).toHaveLength(0);
  });
  it.each([
    ["sel_a and", "condition syntax"],
    ["(sel_a or sel_b", "condition syntax"],
    ["sel_a sel_b", "condition syntax"],
    ["sel_c", "condition reference"],
    ["1 of nothing*", "condition reference"],
    ["sel_a | count() > 5", "timeframe"], // an aggregation without the window it counts in,
  ])("refuses %j with a message naming the line", (cond, feature) => {
    const { ruleset, errors } = compileRules([{ name: "c.yml", text: rule(cond) }]);
    expect(ruleset.rules).toHaveLength(0);
    expect(errors[0]).toMatchObject({ source: "c.yml", title: "C", id: "c1", line: 15, feature });
  });
});
