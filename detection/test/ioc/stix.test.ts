import { describe, expect, it } from "vitest";
import { parseStixBundle } from "../../src/ioc/stix";
import { parseStixPattern } from "../../src/ioc/stix-pattern";

const indicator = (id: string, pattern: string, extra: Record<string, unknown> = {}) => ({
  type: "indicator",
  spec_version: "2.1",
  id,
  pattern,
  pattern_type: "stix",
  valid_from: "2024-01-01T00:00:00Z",
  ...extra,
});

describe("parseStixPattern", () => {
  it("accepts simple comparisons, OR, IN and ISSUBSET", () => {
    expect(parseStixPattern("[ipv4-addr:value = '1.2.3.4']")).toEqual({ ok: true, values: [{ kind: "ip", family: 4, value: "1.2.3.4" }] });
    expect(parseStixPattern("[file:hashes.'SHA-256' = 'aa'] OR [file:hashes.SHA256 = 'bb']")).toMatchObject({
      ok: true,
      values: [
        { kind: "sha256", value: "aa" },
        { kind: "sha256", value: "bb" },
      ],
    });
    expect(parseStixPattern("[domain-name:value = 'a.com' OR (domain-name:value IN ('b.com', 'c\\'d.com'))]")).toMatchObject({
      ok: true,
      values: [{ value: "a.com" }, { value: "b.com" }, { value: "c'd.com" }],
    });
    expect(parseStixPattern("[ipv6-addr:value ISSUBSET '2001:db8::/32']")).toMatchObject({ ok: true });
  });

  it("refuses what an IOC list cannot express, saying why", () => {
    const cases: [string, RegExp][] = [
      ["[ipv4-addr:value = '1.2.3.4' AND domain-name:value = 'a.com']", /AND is not supported/],
      ["[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '5.6.7.8']", /FOLLOWEDBY/],
      ["[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", /qualifier WITHIN/],
      ["[url:value = 'http://x']", /object path 'url:value' is not supported/],
      ["[file:hashes.MD5 = 'x']", /hash algorithm 'MD5'/],
      ["[domain-name:value MATCHES '^a']", /operator MATCHES/],
      ["[ipv4-addr:value != '1.2.3.4']", /operator != /],
      ["[ipv4-addr:value = '1.2.3.4'", /expected '\]'/],
      ["[ipv4-addr:value = 'x", /unterminated string/],
      ["(".repeat(100) + "[ipv4-addr:value = '1.1.1.1']" + ")".repeat(100), /nesting deeper/],
    ];
    for (const [p, re] of cases) {
      const r = parseStixPattern(p);
      expect(r.ok, p).toBe(false);
      if (!r.ok) expect(r.reason, p).toMatch(re);
    }
  });
});

describe("parseStixBundle", () => {
  const bundle = {
    type: "bundle",
    id: "bundle--1",
    objects: [
      { type: "identity", id: "identity--acme", name: "ACME CERT" },
      indicator("indicator--a", "[ipv4-addr:value = '198.51.100.0/24']", {
        confidence: 80,
        valid_until: "2030-01-01T00:00:00Z",
        labels: ["c2"],
        created_by_ref: "identity--acme",
        description: "C2 range",
      }),
      indicator("indicator--b", "[ipv6-addr:value = '2001:DB8::1'] OR [domain-name:value = 'Bad.Example.']"),
      indicator("indicator--c", "[process:name = 'nc']"),
      indicator("indicator--d", "[ipv4-addr:value = '::1']"),
      indicator("indicator--e", "rule x {}", { pattern_type: "yara" }),
      indicator("indicator--f", "[domain-name:value = 'a.com']", { confidence: "very" }),
      indicator("indicator--g", "[domain-name:value = 'a.com']", { revoked: true }),
      { type: "malware", id: "malware--1", name: "x" },
      42,
    ],
  };

  it("turns indicators into normalised IOCs with confidence, expiry, labels and producer", () => {
    const { iocs } = parseStixBundle(JSON.stringify(bundle), { defaultSource: "upload" });
    expect(iocs).toEqual([
      {
        kind: "cidr",
        value: "198.51.100.0/24",
        confidence: 80,
        source: "ACME CERT",
        sourceId: "indicator--a",
        description: "C2 range",
        expiresAtMs: Date.parse("2030-01-01T00:00:00Z"),
        tags: ["c2"],
      },
      { kind: "ip", value: "2001:db8::1", confidence: 50, source: "upload", sourceId: "indicator--b" },
      { kind: "domain", value: "bad.example", confidence: 50, source: "upload", sourceId: "indicator--b" },
    ]);
  });

  it("refuses other indicators naming each one and why", () => {
    const { errors } = parseStixBundle(bundle);
    expect(errors).toEqual([
      { indicatorId: "indicator--c", field: "pattern", message: expect.stringMatching(/^indicator indicator--c: pattern refused: object path 'process:name'/) },
      { indicatorId: "indicator--d", field: "pattern", message: "indicator indicator--d: '::1' is not an IPv4 address" },
      { indicatorId: "indicator--e", field: "pattern_type", message: "indicator indicator--e: pattern_type 'yara' is not supported (only stix)" },
      { indicatorId: "indicator--f", field: "confidence", message: expect.stringMatching(/^indicator indicator--f: confidence 'very'/) },
      { indicatorId: "objects[9]", message: "objects[9]: not a JSON object" },
    ]);
  });

  it("reports a document that is not a bundle", () => {
    expect(parseStixBundle("{").errors[0]?.message).toMatch(/not valid JSON/);
    expect(parseStixBundle({ type: "bundle" }).errors[0]).toMatchObject({ field: "objects" });
    expect(parseStixBundle([1, 2]).errors[0]?.message).toMatch(/expected a STIX bundle/);
    expect(parseStixBundle(indicator("indicator--x", "[domain-name:value = 'x.org']")).iocs).toHaveLength(1);
    // Values that String() cannot render must still produce a message, not an exception.
    const odd = JSON.parse('{"type":"indicator","id":"indicator--o","pattern":"[domain-name:value = \'x.org\']","pattern_type":{"toString":1}}');
    expect(parseStixBundle(odd).errors[0]?.message).toMatch(/indicator--o: pattern_type '\{"toString":1\}'/);
  });
});
