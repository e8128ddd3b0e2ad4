import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCsvRecords } from "../../src/ioc/csv-records";
import { parseIocCsv } from "../../src/ioc/csv";
import { inferValueKind, unsupportedKindOfType } from "../../src/ioc/infer";
import { looksLikeList, parseIocList, readListLine } from "../../src/ioc/list";
import { normalizeValue, refang, resolveKind } from "../../src/ioc/normalize";

// Real abuse.ch excerpts and synthetic look-alikes; see fixtures/ioc/README.md for sources.
const fixture = (name: string): string => readFileSync(join(__dirname, "../fixtures/ioc", name), "utf8");
const lines = (errors: { line?: number }[]): (number | undefined)[] => errors.map((e) => e.line);

describe("abuse.ch CSV exports load unchanged", () => {
  it("Feodo Tracker ipblocklist.csv: every C2 address, its malware family as a tag", () => {
    const r = parseIocCsv(fixture("feodo-ipblocklist.csv"), { defaultSource: "feodo" });
    expect(r.format).toBe("csv");
    expect(r.errors).toEqual([]);
    expect(r.iocs).toHaveLength(20);
    expect(r.iocs[0]).toEqual({ kind: "ip", value: "192.9.135.73", confidence: 50, source: "feodo", tags: ["Pikabot"] });
    expect(r.iocs.at(-1)?.value).toBe("198.38.94.213");
  });

  it("Feodo Tracker's older shape: the header is the last '#' line, values unquoted", () => {
    const r = parseIocCsv(fixture("feodo-ipblocklist-legacy.synthetic.csv"), { defaultSource: "feodo" });
    expect(r.iocs.map((i) => [i.kind, i.value, i.tags])).toEqual([
      ["ip", "192.0.2.40", ["Dridex"]],
      ["ip", "198.51.100.7", ["Emotet"]],
      ["ip", "203.0.113.25", ["TrickBot"]], // defanged 203.0.113[.]25
      ["ip", "2001:db8::25", ["QakBot"]],
    ]);
    expect(r.errors).toEqual([{ line: 13, field: "value", message: expect.stringMatching(/^line 13: '192\.0\.2\.999' is neither an IP address nor a domain name/) }]);
  });

  it("ThreatFox full export: quoted '#' header, '\", \"' separators, ip:port matched on the address, the URL refused by name", () => {
    const r = parseIocCsv(fixture("threatfox-full.csv"), { defaultSource: "threatfox" });
    expect(r.format).toBe("csv");
    expect(r.iocs).toEqual([
      { kind: "ip", value: "8.134.12.90", confidence: 100, source: "threatfox", description: "Cobalt Strike", tags: ["botnet_cc", "CobaltStrike", "cs-watermark-987654321"] },
      { kind: "ip", value: "172.245.184.135", confidence: 100, source: "threatfox", description: "Cobalt Strike", tags: ["botnet_cc", "CobaltStrike", "cs-watermark-987654321"] },
      { kind: "ip", value: "91.208.73.75", confidence: 100, source: "threatfox", description: "Cobalt Strike", tags: ["botnet_cc", "CobaltStrike", "cs-watermark-100000"] },
      { kind: "ip", value: "8.223.20.63", confidence: 100, source: "threatfox", description: "Cobalt Strike", tags: ["botnet_cc", "CobaltStrike"] },
    ]);
    expect(r.errors).toEqual([
      { line: 10, field: "type", message: expect.stringMatching(/^line 10: unsupported IOC type 'url' for 'http:\/\/rocheholding\.top\/rudolph\/five\/fre\.php' \(Vigil events carry no URLs/) },
    ]);
    expect(r.unsupported).toEqual({ url: 1 });
  });

  it("ThreatFox: domain and sha256_hash load; md5_hash, sha1_hash and url are refused and counted; bad ports named", () => {
    const r = parseIocCsv(fixture("threatfox-recent.synthetic.csv"));
    expect(r.iocs.map((i) => [i.kind, i.value, i.confidence])).toEqual([
      ["domain", "c2.example", 75],
      ["sha256", "ab".repeat(32), 100],
      ["ip", "2001:db8::7", 50], // [2001:db8::7]:8443
      ["domain", "panel.example.net", 75], // panel.example[.]net:443
    ]);
    expect(r.iocs[1]?.tags).toEqual(["payload", "exe", "stealer"]); // "None" cells are not tags
    expect(r.iocs[0]?.tags).toEqual(["botnet_cc"]);
    expect(r.errors.map((e) => [e.line, e.field])).toEqual([
      [9, "type"],
      [11, "type"],
      [13, "type"],
      [14, "value"],
    ]);
    expect(r.errors[0]?.message).toMatch(/^line 9: unsupported IOC type 'md5_hash' for 'cdcd.*' \(Vigil events carry SHA-256 file hashes only\)$/);
    expect(r.errors[1]?.message).toMatch(/^line 11: unsupported IOC type 'url' for 'hxxps:\/\/files\.example\/payload\.bin'/);
    expect(r.errors[2]?.message).toMatch(/^line 13: unsupported IOC type 'sha1_hash'/);
    expect(r.errors[3]?.message).toBe("line 14: '198.51.100.77:70000': port 70000 is above 65535");
    expect(r.unsupported).toEqual({ md5: 1, url: 1, sha1: 1 });
  });

  it("MalwareBazaar full export: sha256_hash is the value (md5/sha1 columns ignored), signature a tag, n/a dropped", () => {
    const r = parseIocCsv(fixture("malwarebazaar-full.csv"), { defaultSource: "bazaar" });
    expect(r.errors).toEqual([]);
    expect(r.iocs.map((i) => i.value)).toEqual([
      "2e376f05023790d577a4d2e110640410c9d65c145d2d02e207ff07c3271ea095",
      "36ec708af0e23aa5e6cfa50dbb4327cad9c5bf25740ab5b38c7a89cf2d6617b8",
      "1a295933a80907bda689b231e5295eae86bd19b21964ee8669ceb5598c9d714d",
      "f54bcd9b8d1f71019f83f0116ec50209aed422590555f228450da3492df76005",
      "1ccf2435674e5a774cbb63f1177f3ae6c592ccf152bb50986cb80e6a76c24857",
    ]);
    expect(r.iocs.every((i) => i.kind === "sha256")).toBe(true);
    expect(r.iocs.map((i) => i.tags)).toEqual([undefined, undefined, ["Loki"], undefined, undefined]);
  });

  it("URLhaus: read as a CSV, every URL refused with its line and reason and counted (no host taken in its place)", () => {
    const r = parseIocCsv(fixture("urlhaus-recent.csv"));
    expect(r.format).toBe("csv");
    expect(r.iocs).toEqual([]);
    expect(lines(r.errors)).toEqual([10, 11, 12, 13, 14, 15]);
    expect(r.errors.every((e) => /^line \d+: unsupported IOC type 'url' for 'https?:\/\//.test(e.message))).toBe(true);
    expect(r.unsupported).toEqual({ url: 6 });
  });
});

describe("plain lists, one indicator per line", () => {
  it("Spamhaus DROP: ';' comments, 'prefix ; SBL id' with the id kept as description", () => {
    const r = parseIocCsv(fixture("spamhaus-drop.synthetic.txt"), { defaultSource: "drop" });
    expect(r.format).toBe("list");
    expect(r.iocs).toEqual([
      { kind: "cidr", value: "192.0.2.0/24", confidence: 50, source: "drop", description: "SBL000001" },
      { kind: "cidr", value: "198.51.100.0/25", confidence: 50, source: "drop", description: "SBL000002" },
      { kind: "cidr", value: "203.0.113.128/25", confidence: 50, source: "drop", description: "SBL000003" },
      { kind: "cidr", value: "2001:db8:1::/48", confidence: 50, source: "drop", description: "SBL000004" },
    ]);
    expect(r.errors).toEqual([{ line: 9, field: "value", message: expect.stringMatching(/^line 9: '203\.0\.113\.0\/33' is not a CIDR/) }]);
  });

  it("address lists (blocklist.de, ET, CINS shape): '#' comments, trailing comments, defanged values, ip:port", () => {
    const r = parseIocCsv(fixture("plain-ips.synthetic.txt"));
    expect(r.format).toBe("list");
    expect(r.iocs.map((i) => i.value)).toEqual(["192.0.2.1", "192.0.2.2", "198.51.100.3", "203.0.113.4", "2001:db8::5", "203.0.113.6"]);
    expect(r.iocs.every((i) => i.kind === "ip" && i.source === "list")).toBe(true);
    expect(r.iocs[2]?.description).toBe("reported twice");
    expect(r.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^line 11: '192\.0\.2\.300' is neither an IP address nor a domain name/),
      expect.stringMatching(/^line 12: 3 words .*expected one indicator per line/),
    ]);
  });

  it("hash lists: sha256 (bare, prefixed, sha256sum output) load; MD5 and SHA-1 are refused by kind and counted", () => {
    const r = parseIocCsv(fixture("hashes.synthetic.txt"));
    expect(r.format).toBe("list");
    expect(r.iocs.map((i) => [i.kind, i.value, i.description])).toEqual([
      ["sha256", "0a".repeat(32), undefined],
      ["sha256", "1b".repeat(32), "dropper.exe"],
      ["sha256", "2c".repeat(32), undefined],
    ]);
    expect(r.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^line 5: unsupported IOC type 'md5' for '3d3d.*' \(Vigil events carry SHA-256 file hashes only\)$/),
      expect.stringMatching(/^line 6: unsupported IOC type 'sha1' for '4e4e/),
      expect.stringMatching(/^line 7: domain 'not-a-hash-at-all' needs at least two labels/),
    ]);
    expect(r.unsupported).toEqual({ md5: 1, sha1: 1 });
  });

  it("hosts-file blocklists: the names pointed at 0.0.0.0 / 127.0.0.1, without the machine's own names", () => {
    const r = parseIocCsv(fixture("hosts.synthetic.txt"));
    expect(r.format).toBe("list");
    expect(r.errors).toEqual([]);
    expect(r.iocs.map((i) => i.value)).toEqual(["tracker.example", "malware-cdn.example", "a.bad.example", "b.bad.example"]);
  });

  it("a URL list is refused line by line", () => {
    const r = parseIocCsv("# urls\nhttp://198.51.100.1/x.sh\nhxxps://evil[.]example/a;b\nevil.example/path\n");
    expect(r.format).toBe("list");
    expect(r.iocs).toEqual([]);
    expect(lines(r.errors)).toEqual([2, 3, 4]);
    expect(r.unsupported).toEqual({ url: 3 });
  });

  it("format 'list' reads a list even when the first line is a column name; format 'csv' never falls back to a list", () => {
    const text = "ip\n192.0.2.1\n192.0.2.2 ; note\n";
    const list = parseIocCsv(text, { format: "list" });
    expect(list.format).toBe("list");
    expect(list.errors).toEqual([]);
    expect(list.iocs.map((i) => i.value)).toEqual(["192.0.2.1", "192.0.2.2"]);
    // Auto: "ip" is a header, so this is a one-column CSV (whose ';' is not a comment).
    expect(parseIocCsv(text).errors.map((e) => e.line)).toEqual([3]);

    const strict = parseIocCsv("192.0.2.1\n192.0.2.2\n", { format: "csv" });
    expect(strict.format).toBe("csv");
    expect(strict.iocs).toEqual([]);
    expect(strict.errors[0]?.message).toMatch(/^line 1: no header row: this first record looks like data/);
    expect(parseIocCsv("192.0.2.1\n192.0.2.2\n").iocs).toHaveLength(2);
  });

  it("parseIocList names the line of every refused line and keeps the rest", () => {
    const r = parseIocList("192.0.2.1\n\n; c\nfoo bar baz\n198.51.100.0/24 # x\n", { defaultSource: "s", defaultConfidence: 70 });
    expect(r.iocs).toEqual([
      { kind: "ip", value: "192.0.2.1", confidence: 70, source: "s" },
      { kind: "cidr", value: "198.51.100.0/24", confidence: 70, source: "s", description: "x" },
    ]);
    expect(lines(r.errors)).toEqual([4]);
  });
});

describe("header detection", () => {
  it("a first record holding an indicator is data: a ThreatFox domain export whose rows say 'domain' uses its '#' header", () => {
    const text = [
      '# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","malware_printable","confidence_level","tags"',
      '"2026-01-01 00:00:00", "1", "c2.example", "domain", "botnet_cc", "X", "75", "None"',
      '"2026-01-01 00:00:01", "2", "c3.example", "domain", "botnet_cc", "X", "50", "None"',
    ].join("\n");
    const r = parseIocCsv(text);
    expect(r.errors).toEqual([]);
    expect(r.iocs.map((i) => [i.value, i.confidence])).toEqual([
      ["c2.example", 75],
      ["c3.example", 50],
    ]);
  });

  it("a header row wins over a '#' comment above it; a one-field comment is not a header", () => {
    expect(parseIocCsv("# ip,note\ntype,value\nip,192.0.2.1\n").iocs.map((i) => i.value)).toEqual(["192.0.2.1"]);
    const r = parseIocCsv("# sha256\n" + "a".repeat(64) + "\n");
    expect(r.format).toBe("list");
    expect(r.iocs.map((i) => i.kind)).toEqual(["sha256"]);
  });

  it("headerless CSV data is refused with a message saying so; a header without a value column names the accepted ones", () => {
    const data = parseIocCsv("192.0.2.1,443,online\n198.51.100.2,80,offline\n");
    expect(data.iocs).toEqual([]);
    expect(data.errors).toEqual([{ line: 1, message: expect.stringMatching(/^line 1: no header row: this first record looks like data; .*ioc_value.*dst_ip/) }]);
    expect(parseIocCsv("first_seen,port\nx,1\n").errors[0]?.message).toMatch(/^line 1: header lacks required column\(s\) value \(found: first_seen, port; a value column is one of value, /);
  });

  it("tags merge from several columns (split on , ; |), description falls back to the malware name", () => {
    const r = parseIocCsv('value,tags,threat_type,malware_printable\n192.0.2.1,"a, b|c",botnet_cc,Foo\n192.0.2.2,a;a,n/a,None\n');
    expect(r.iocs).toEqual([
      { kind: "ip", value: "192.0.2.1", confidence: 50, source: "csv", description: "Foo", tags: ["a", "b", "c", "botnet_cc"] },
      { kind: "ip", value: "192.0.2.2", confidence: 50, source: "csv", tags: ["a"] },
    ]);
  });

  it("a generic 'hash' type over an MD5 value is refused as md5, not as a bad SHA-256", () => {
    const r = parseIocCsv("type,value\nhash," + "d4".repeat(16) + "\nfilehash-md5,x\nmutex,Global\\x\n");
    expect(r.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/^line 2: unsupported IOC type 'md5' for 'd4d4/),
      expect.stringMatching(/^line 3: unsupported IOC type 'filehash-md5' for 'x' \(Vigil events carry SHA-256/),
      expect.stringMatching(/^line 4: unsupported IOC type 'mutex' for 'Global\\x' \(supported: ip, cidr, domain, sha256\)/),
    ]);
    expect(r.unsupported).toEqual({ md5: 2, mutex: 1 });
  });
});

describe("values and records", () => {
  it("refangs hxxp, [://], [:], [.], (dot), [@]", () => {
    expect(refang("hxxps[:]//evil[.]example/a")).toBe("https://evil.example/a");
    expect(refang("hXXp[://]evil(dot)example")).toBe("http://evil.example");
    expect(refang(" 192.0.2[.]1 ")).toBe("192.0.2.1");
    expect(refang("bad[@]evil[.]example")).toBe("bad@evil.example");
  });

  it("ip:port resolves to ip and is matched on the address; IPv6 in brackets; numeric last labels refused", () => {
    expect(resolveKind("ip:port")).toBe("ip");
    expect(resolveKind("sha256_hash")).toBe("sha256");
    expect(normalizeValue("ip", "192.0.2.1:443")).toEqual({ ok: true, kind: "ip", value: "192.0.2.1" });
    expect(normalizeValue("ip", "[2001:DB8::1]:443")).toEqual({ ok: true, kind: "ip", value: "2001:db8::1" });
    expect(normalizeValue("ip", "2001:db8::1:443")).toEqual({ ok: true, kind: "ip", value: "2001:db8::1:443" }); // a bare IPv6 stays one
    expect(normalizeValue("domain", "evil.example:8080")).toEqual({ ok: true, kind: "domain", value: "evil.example" });
    expect(normalizeValue("domain", "10.0.0.256").ok).toBe(false);
  });

  it("infers the kind of a bare value", () => {
    const k = (v: string) => inferValueKind(v)?.kind;
    expect(["192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:80", "10.0.0.0/8", "a".repeat(64), "evil.example"].map(k)).toEqual(["ip", "ip", "ip", "cidr", "sha256", "domain"]);
    expect(["hxxp://x.example", "x.example/path", "a".repeat(32), "a".repeat(40), "a".repeat(128), "x@y.example"].map(k)).toEqual(["url", "url", "md5", "sha1", "sha512", "email"]);
    expect(k("   ")).toBeUndefined();
    expect(["url", "URI", "md5_hash", "FileHash-SHA1", "sha512", "email-src", "domain", "sha256_hash"].map(unsupportedKindOfType)).toEqual([
      "url",
      "url",
      "md5",
      "sha1",
      "sha512",
      "email",
      undefined,
      undefined,
    ]);
  });

  it("reads list lines: comments, hosts entries, hash + file name, indicator + words; refuses several indicators", () => {
    expect(readListLine("  # c", 1)).toBeUndefined();
    expect(readListLine("// c", 1)).toBeUndefined();
    expect(readListLine('"192.0.2.1"', 1)).toEqual({ line: 1, values: ["192.0.2.1"] });
    expect(readListLine("192.0.2.1\t12", 2)).toEqual({ line: 2, values: ["192.0.2.1"], note: "12" });
    expect(readListLine("http://x.example/#frag", 3)).toEqual({ line: 3, values: ["http://x.example/#frag"] });
    expect(readListLine("192.0.2.0 192.0.2.255 24", 4)?.error).toMatch(/^3 words/);
    expect(readListLine("192.0.2.9 evil.example", 5)?.error).toMatch(/^2 words/);
    expect(looksLikeList("type,value\nip,192.0.2.1\n")).toBe(false);
    expect(looksLikeList("junk header\n192.0.2.1\n192.0.2.2\n")).toBe(true);
  });

  it("readCsvRecords allows blanks around quoted fields and returns the '#' lines", () => {
    const { records, errors, comments } = readCsvRecords('## banner ##\n# "a","b"\n"x, y", "z" ,\t"w"\n');
    expect(errors).toEqual([]);
    expect(records).toEqual([{ line: 3, fields: ["x, y", "z", "w"] }]);
    expect(comments).toEqual([
      { line: 1, text: "banner ##" },
      { line: 2, text: '"a","b"' },
    ]);
  });
});
