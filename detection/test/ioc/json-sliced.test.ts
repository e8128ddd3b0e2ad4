import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseJsonSteps } from "../../src/ioc/json-sliced";
import { parseStixBundle, parseStixBundleSteps } from "../../src/ioc/stix";
import { MAX_PATTERN_CHARS } from "../../src/ioc/stix-pattern";
import { runSteps, runStepsSliced } from "../../src/ioc/time-slice";

const parse = (t: string) => runSteps(parseJsonSteps(t));

describe("JSON parsed in steps", () => {
  it("gives what JSON.parse gives for any JSON value, and fails where it fails", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.constantFrom("", " ", "\n\t "), (v, ws) => {
        const text = ws + JSON.stringify(v, null, ws.length ? 1 : 0) + ws;
        expect(parse(text)).toEqual({ ok: true, value: JSON.parse(text) });
      }),
      { numRuns: 1000 },
    );
    const pieces = fc.constantFrom("{", "}", "[", "]", ",", ":", '"', '"a"', "\\", "1", "-", "true", "nul", " ", "\n", '"objects"');
    fc.assert(
      fc.property(
        fc.array(pieces).map((a) => a.join("")),
        (text) => {
          let expected: unknown;
          try {
            expected = { ok: true, value: JSON.parse(text) };
          } catch {
            expected = undefined;
          }
          const got = parse(text);
          if (expected) expect(got).toEqual(expected);
          else expect(got.ok).toBe(false);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("keeps __proto__ an own property, as JSON.parse does", () => {
    const r = parse('{"__proto__": {"x": 1}, "objects": [{"__proto__": 2}]}');
    expect(r.ok && Object.keys(r.value as object)).toEqual(["__proto__", "objects"]);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("a bundle of 60k indicators is parsed in many short steps, none of them a whole-document parse", async () => {
    const objects = Array.from({ length: 60_000 }, (_, i) => ({
      type: "indicator",
      spec_version: "2.1",
      id: `indicator--00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      modified: "2024-01-01T00:00:00Z",
      pattern_type: "stix",
      pattern: `[ipv4-addr:value = '10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}']`,
    }));
    const text = JSON.stringify({ type: "bundle", id: "bundle--1", objects });
    let pauses = 0;
    const r = await runStepsSliced(parseStixBundleSteps(text), { sliceMs: 2, pause: async () => void pauses++ });
    expect(r.iocs.length).toBe(60_000);
    expect(r.errors).toEqual([]);
    expect(pauses).toBeGreaterThan(20);
    expect(parseStixBundle(text).iocs).toEqual(r.iocs);
  });

  it("one indicator cannot hold the thread for long: a pattern over MAX_PATTERN_CHARS is refused by its length, unread", () => {
    const values = Array.from({ length: 120_000 }, (_, i) => `'10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}'`);
    const pattern = `[ipv4-addr:value IN (${values.join(", ")})]`;
    expect(pattern.length).toBeGreaterThan(MAX_PATTERN_CHARS);
    const r = parseStixBundle({ type: "bundle", objects: [{ type: "indicator", id: "indicator--big", pattern_type: "stix", pattern }] });
    expect(r.iocs).toEqual([]);
    expect(r.errors[0]?.message).toMatch(/pattern of \d+ characters is longer than 524288; split it/);
  });
});
