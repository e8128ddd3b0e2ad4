import { describe, expect, it } from "vitest";
import { compileRules, DetectionEngine } from "../../src/sigma";

const RULE = `title: Curl run
id: 11111111-1111-4111-8111-111111111111
name: curl_run
logsource: { product: linux, category: process_creation }
detection:
  sel: { Image|endswith: /curl }
  condition: sel
level: low
`;

const filter = (targets: string[]) => `title: Admins may curl
logsource: { product: linux, category: process_creation }
filter:
  rules: [${targets.join(", ")}]
  selection: { User|startswith: adm_ }
  condition: selection
`;

const ev = (user: string) => ({ logsource: { product: "linux", category: "process_creation" }, fields: { Image: "/usr/bin/curl", User: user }, timeMs: 1 });

describe("Sigma filters (meta-filters)", () => {
  it("exclude matching events from the rules they name, by id or name", () => {
    for (const target of ["11111111-1111-4111-8111-111111111111", "curl_run"]) {
      const { ruleset, errors } = compileRules([
        { name: "r.yml", text: RULE },
        { name: "f.yml", text: filter([target]) },
      ]);
      expect(errors).toEqual([]);
      const e = new DetectionEngine(ruleset);
      expect(e.process(ev("adm_alice"))).toEqual([]);
      expect(e.process(ev("mallory")).map((m) => m.rule.title)).toEqual(["Curl run"]);
    }
  });

  it("skip names this rule set does not have, and are refused only when they apply to nothing", () => {
    const partial = compileRules([
      { name: "r.yml", text: RULE },
      { name: "f.yml", text: filter(["curl_run", "22222222-2222-4222-8222-222222222222"]) },
    ]);
    expect(partial.errors).toEqual([]);
    expect(new DetectionEngine(partial.ruleset).process(ev("adm_bob"))).toEqual([]);
    const none = compileRules([
      { name: "r.yml", text: RULE },
      { name: "f.yml", text: filter(["33333333-3333-4333-8333-333333333333"]) },
    ]);
    expect(none.errors).toHaveLength(1);
    expect(none.errors[0]).toMatchObject({ source: "f.yml", feature: "filter reference" });
    expect(none.errors[0].message).toMatch(/no known detection rule/);
  });
});
