import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseStixBundle } from "../../src/ioc/stix";

// Real STIX from OASIS, MISP and Unit 42 (short excerpts) and synthetic look-alikes; see
// fixtures/ioc/stix/README.md for sources and licences.
const fixture = (name: string): string => readFileSync(join(__dirname, "../fixtures/ioc/stix", name), "utf8");
const NOW = Date.parse("2025-01-01T00:00:00Z");
const load = (name: string) => parseStixBundle(fixture(name), { nowMs: NOW });
const values = (r: { iocs: { kind: string; value: string }[] }) => r.iocs.map((i) => `${i.kind} ${i.value}`);

describe("OASIS cti-stix2-json-schemas examples load unchanged", () => {
  it("STIX 2.1 'indicator for C2 IP address': the address, its indicator_types as tags, its name as description", () => {
    const r = load("oasis-indicator-for-c2-ip-address.json");
    expect(r.iocs).toEqual([
      {
        kind: "ip",
        value: "10.0.0.0",
        confidence: 50,
        source: "stix",
        sourceId: "indicator--33fe3b22-0201-47cf-85d0-97c02164528d",
        description: "IP Address for known C2 channel",
        tags: ["malicious-activity"],
      },
    ]);
    expect(r.errors).toEqual([]);
  });

  it("STIX 2.0 (spec_version on the bundle, no pattern_type): '[ file:hashes.SHA-256 = ... ]' with blanks and an unquoted hyphen", () => {
    const r = load("oasis-file-hash-reputation.json");
    expect(values(r)).toEqual(["sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]);
    expect(r.errors).toEqual([]);
    expect(r.indicators).toBe(1);
  });

  it("STIX 2.0 with a producer identity: its name is the source; 'file:hashes:sha256' (a ':' for the '.') is read as meant", () => {
    const r = load("oasis-indicators-for-C2-with-COA.json");
    expect(r.iocs.map((i) => [i.kind, i.value, i.source, i.tags])).toEqual([
      ["ip", "10.0.0.0", "The MITRE Corporation - DHS Support Team", ["ip-watchlist"]],
      ["sha256", "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c", "The MITRE Corporation - DHS Support Team", ["file-hash-watchlist"]],
    ]);
    // Malware, course-of-action and relationships are ignored without a word.
    expect(r.errors).toEqual([]);
  });

  it("a URL indicator is refused by id, with the reason, and counted as url", () => {
    const r = load("oasis-indicator-for-malicious-URL.json");
    expect(r.iocs).toEqual([]);
    expect(r.errors).toEqual([
      {
        indicatorId: "indicator--d81f86b9-975b-bc0b-775e-810c5ad45a4f",
        field: "pattern",
        message: expect.stringMatching(/^indicator indicator--d81f86b9-975b-bc0b-775e-810c5ad45a4f: pattern refused: object path 'url:value' is not supported \(Vigil events carry no URLs/),
      },
    ]);
    expect(r.unsupported).toEqual({ url: 1 });
  });

  it("e-mail indicators (MATCHES, a list index in the path) are refused by id and counted as email", () => {
    const r = load("oasis-malicious-email-indicator-with-attachment.json");
    expect(r.iocs).toEqual([]);
    expect(r.errors.map((e) => [e.indicatorId, e.message.match(/object path '[^']+'/)?.[0]])).toEqual([
      ["indicator--8cf9236f-1b96-493d-98be-0c1c1e8b62d7", "object path 'email-message:subject'"],
      ["indicator--2e17f6fe-3a4d-438a-911a-e509ba1b9933", "object path 'email-message:body_multipart[*].body_raw_ref.name'"],
    ]);
    expect(r.unsupported).toEqual({ email: 2 });
  });
});

describe("MISP STIX 2.1 exports (misp-stix)", () => {
  it("observed-data and SCOs are counted, not imported; the indicator loads with the MISP identity as source", () => {
    const r = load("misp-test-event1-stix21.json");
    expect(r.iocs).toEqual([
      {
        kind: "domain",
        value: "circl.lu",
        confidence: 50,
        source: "MISP-Project",
        sourceId: "indicator--4bb235a7-7d25-4aef-802f-2c6b45c5eceb",
        description: "Domain test attribute",
        tags: ['misp:type="domain"', 'misp:category="Network activity"', 'misp:to_ids="True"'],
      },
    ]);
    // 2 observed-data, 1 autonomous-system, 1 domain-name; groupings and the relationship are ignored.
    expect(r.observables).toBe(4);
    expect(r.errors).toEqual([]);
  });

  it("ip-dst, ip-dst|port, domain|ip, hostname|port and filename|sha256 load as the one value they name", () => {
    const r = parseStixBundle(JSON.parse(fixture("misp-patterns-stix21.json")), { nowMs: NOW });
    expect(r.iocs.map((i) => [i.sourceId, i.kind, i.value])).toEqual([
      ["indicator--518b4bcb-a86b-4783-9457-391d548b605b", "ip", "5.6.7.8"], // dst_ref.type AND dst_ref.value
      ["indicator--0f6ff4a4-5b1e-4c4c-9a4e-2a7f1d1e0a01", "ip", "5.6.7.8"], // ... AND dst_port: every port matches
      ["indicator--91ae0a21-c7ae-4c7f-b84b-b84a7ce53d1f", "domain", "circl.lu"], // AND resolves_to_refs[*].value
      ["indicator--0f6ff4a4-5b1e-4c4c-9a4e-2a7f1d1e0a02", "domain", "circl.lu"], // AND network-traffic:dst_port
      ["indicator--2007ec09-8137-4a71-a3ce-6ef967bebacf", "sha256", "7fa3abc229fd3cb9a0a6f07d9da15e35528c630d0ad5902d5422b305cae7eaa4"], // file:name AND hash
    ]);
    expect(r.iocs.every((i) => i.source === "MISP-Project")).toBe(true);
  });

  it("the ip-port object (an address AND a host name for one destination) is refused; other kinds are counted", () => {
    const r = parseStixBundle(fixture("misp-patterns-stix21.json"), { nowMs: NOW });
    expect(r.errors.map((e) => e.indicatorId)).toEqual([
      "indicator--0f6ff4a4-5b1e-4c4c-9a4e-2a7f1d1e0a03",
      "indicator--34cb1a7c-55ec-412a-8684-ba4a88d83a45",
      "indicator--9060e814-a36f-45ab-84e5-66fc82dc7cff",
      "indicator--0f6ff4a4-5b1e-4c4c-9a4e-2a7f1d1e0a04",
      "indicator--0f6ff4a4-5b1e-4c4c-9a4e-2a7f1d1e0a05",
      "indicator--eb49356e-d709-4e63-b8a2-f8c5cc54f38f",
    ]);
    expect(r.errors[0]?.message).toMatch(/AND is not supported between two values \('149\.13\.33\.14' and 'circl\.lu'\)/);
    expect(r.errors[1]?.message).toMatch(/hash algorithm 'MD5' is not supported/);
    expect(r.unsupported).toEqual({ md5: 2, ssdeep: 1, authentihash: 1, "autonomous-system": 1 });
    // The to_ids=false attribute travels as observed-data + ipv4-addr only: not an indicator.
    expect(r.observables).toBe(2);
    expect(values(r)).not.toContain("ip 1.2.3.4");
  });
});

describe("vendor reports", () => {
  it("Unit 42 playbook (STIX 2.0, 'type' last, pattern_type set): hashes and addresses load, URL and directory refused", () => {
    const r = load("unit42-kinsing.excerpt.json");
    expect(r.iocs.map((i) => [i.kind, i.value, i.description])).toEqual([
      ["sha256", "511de8dd7f3cb4c5d88cd5a62150e6826cb2f825fa60607a201a8542524442e2", "511de8dd7f3cb4c5d88cd5a62150e6826cb2f825fa60607a201a8542524442e2"],
      ["ip", "91.215.169.111", "91.215.169.111"],
      ["ip", "62.113.112.127", "62.113.112.127"],
    ]);
    expect(r.errors.map((e) => e.indicatorId)).toEqual(["indicator--3ad7017c-8b2f-4aee-932c-5e060b2c1403", "indicator--58bb0ebe-ad92-4498-9ef6-a0eaf15f8164"]);
    expect(r.errors[1]?.message).toMatch(/object path 'directory:path' is not supported/);
    expect(r.unsupported).toEqual({ url: 1, directory: 1 });
  });
});

describe("OpenCTI-shaped export (synthetic)", () => {
  const r = load("opencti-export.synthetic.json");
  const id = (n: string) => `indicator--00000000-0000-4000-8000-0000000000${n}`;

  it("loads what it can match, with confidence, tags from indicator_types and labels, and the identity as source", () => {
    expect(r.iocs[0]).toEqual({
      kind: "ip",
      value: "198.51.100.7",
      confidence: 80,
      source: "Example CERT",
      sourceId: id("01"),
      description: "Cobalt Strike team server",
      expiresAtMs: Date.parse("2099-01-01T00:00:00Z"),
      tags: ["malicious-activity", "c2", "cobalt-strike"],
    });
    expect(values(r)).toEqual([
      "ip 198.51.100.7",
      "domain new.example", // the newer of two versions of indicator 04
      "cidr 2001:db8::/48",
      "ip 203.0.113.9", // written as 203.0.113.9/32
      "sha256 " + "ab".repeat(32), // file:hashes.'sha256', upper-case hex
      "domain panel.example.net", // network-traffic:dst_ref of type domain-name, port dropped
      "ip 192.0.2.44", // START/STOP window still open
      "domain evil.example", // tabs and newlines inside the brackets
      "domain other.example",
    ]);
    // Named after its own pattern: no description rather than the pattern again.
    expect(r.iocs[1]?.description).toBeUndefined();
    expect(r.iocs.find((i) => i.value === "192.0.2.44")?.expiresAtMs).toBe(Date.parse("2099-01-01T00:00:00Z"));
  });

  it("skips revoked, expired (valid_until or STOP past) and superseded versions, counting them", () => {
    expect(r.skipped).toEqual({ revoked: 1, expired: 2, superseded: 1 });
    expect(values(r)).not.toContain("domain old.example");
    expect(r.indicators).toBe(18);
    expect(r.observables).toBe(4);
  });

  it("names every refused indicator with its reason, and counts unsupported kinds", () => {
    expect(r.errors.map((e) => [e.indicatorId, e.field])).toEqual([
      [id("07"), "pattern"],
      [id("08"), "pattern"],
      [id("09"), "pattern"],
      [id("13"), "pattern"],
      [id("15"), "pattern"],
      [id("16"), "pattern_type"],
      [id("17"), "pattern"],
    ]);
    const msg = Object.fromEntries(r.errors.map((e) => [e.indicatorId, e.message]));
    expect(msg[id("07")]).toMatch(/observation operator AND is not supported/);
    expect(msg[id("09")]).toMatch(/x509-certificate.*certificate's fingerprint is not a file hash/);
    expect(msg[id("13")]).toMatch(/qualifier REPEATS is not supported \(the pattern asks for 5 sightings/);
    expect(msg[id("15")]).toMatch(/AND is not supported between domain-name:value and url:value \(two objects\)/);
    expect(msg[id("17")]).toMatch(/AND is not supported between two values \('10\.0\.0\.5' and '198\.51\.100\.99'\)/);
    expect(r.unsupported).toEqual({ md5: 1, email: 1, "x509-certificate": 1, sigma: 1 });
  });

  it("an indicator that loads with alternatives left out says which, without counting as refused", () => {
    expect(r.partial.map((p) => p.indicatorId)).toEqual([id("06"), id("14")]);
    expect(r.partial[0]?.message).toMatch(/loaded 1 value\(s\); left out: hash algorithm 'MD5' is not supported/);
    expect(r.partial[1]?.message).toMatch(/left out: domain 'b'c\.example' has an invalid label/);
  });
});

describe("bundle shapes", () => {
  it("a TAXII 2.1 envelope ({more, objects}) saved from a collection loads like a bundle", () => {
    const r = load("taxii21-envelope.synthetic.json");
    expect(values(r)).toEqual(["domain taxii.example"]);
    expect(r.observables).toBe(1);
  });

  it("an ATT&CK-shaped bundle (no indicators, thousands of objects of custom types) imports nothing and reports nothing", () => {
    const objects: unknown[] = [{ type: "identity", id: "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5", name: "The MITRE Corporation" }];
    const text = "Adversaries may inject code into processes to evade process-based defenses. ".repeat(20);
    for (let i = 0; i < 5_000; i++) {
      const type = ["attack-pattern", "relationship", "malware", "intrusion-set", "x-mitre-data-component", "x-mitre-tactic", "course-of-action"][i % 7] as string;
      objects.push({ type, id: `${type}--${i}`, spec_version: "2.1", created_by_ref: "identity--c78cb6e5-0c4b-4611-8297-d1b8b55e40b5", description: text, x_mitre_domains: ["enterprise-attack"] });
    }
    const json = JSON.stringify({ type: "bundle", id: "bundle--attack", objects });
    const t0 = performance.now();
    const r = parseStixBundle(json);
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r).toMatchObject({ iocs: [], errors: [], partial: [], indicators: 0, observables: 0, unsupported: {} });
  });
});
