import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseIocCsv } from "../../src/ioc/csv";
import { parseStixBundle } from "../../src/ioc/stix";
import { parseStixPattern } from "../../src/ioc/stix-pattern";

// Pieces that make the random input reach deep into the parsers rather than fail at the first byte.
const csvPiece = fc.constantFrom("type", "value", "confidence", "ip", "cidr", "domain", "sha256", ",", '"', "\n", "\r\n", "#", "1.2.3.4", "::1", "/24", "evil.com", "a".repeat(64), "high", "200", " ");
const patternPiece = fc.constantFrom(
  "[",
  "]",
  "(",
  ")",
  "'",
  "\\",
  "OR",
  "AND",
  "IN",
  "ISSUBSET",
  " ",
  "=",
  "!=",
  ",",
  "ipv4-addr:value",
  "file:hashes.'SHA-256'",
  "file:hashes.",
  "domain-name:value",
  "'1.2.3.4'",
  "'10.0.0.0/8'",
  "'a.com'",
  ":",
  ".",
  "WITHIN",
);

describe("parsers never throw on random input", () => {
  it("CSV", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(csvPiece).map((a) => a.join("")),
        ),
        (text) => {
          const r = parseIocCsv(text);
          expect(Array.isArray(r.iocs) && Array.isArray(r.errors)).toBe(true);
          for (const e of r.errors) expect(e.message).toMatch(/^line \d+: /);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("STIX patterns", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(patternPiece).map((a) => a.join("")),
        ),
        (p) => {
          const r = parseStixPattern(p);
          if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("STIX bundles", () => {
    const indicator = fc.record({
      type: fc.constantFrom("indicator", "identity", 3),
      id: fc.oneof(fc.string(), fc.constant(undefined)),
      pattern: fc.oneof(
        fc.array(patternPiece).map((a) => a.join("")),
        fc.anything(),
      ),
      confidence: fc.oneof(fc.integer({ min: -10, max: 200 }), fc.string(), fc.anything()),
      valid_until: fc.oneof(fc.string(), fc.anything()),
      labels: fc.anything(),
      revoked: fc.anything(),
      pattern_type: fc.oneof(fc.constant("stix"), fc.anything()),
    });
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.string(), fc.record({ type: fc.constant("bundle"), objects: fc.array(fc.oneof(indicator, fc.anything())) })), (doc) => {
        const r = parseStixBundle(doc);
        expect(Array.isArray(r.errors)).toBe(true);
        for (const i of r.iocs) expect(["ip", "cidr", "domain", "sha256"]).toContain(i.kind);
      }),
      { numRuns: 2000 },
    );
  });
});
