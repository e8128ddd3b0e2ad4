import { describe, expect, it } from "vitest";
import { readCsvRecords } from "../../src/ioc/csv-records";
import { parseIocCsv } from "../../src/ioc/csv";

describe("readCsvRecords", () => {
  it("handles quotes, doubled quotes, embedded newlines, CRLF and comments", () => {
    const text = '# feed v1\r\na,b\r\n"x, y","say ""hi"""\r\n\r\n"multi\nline",z\n';
    const { records, errors } = readCsvRecords(text);
    expect(errors).toEqual([]);
    expect(records).toEqual([
      { line: 2, fields: ["a", "b"] },
      { line: 3, fields: ["x, y", 'say "hi"'] },
      { line: 5, fields: ["multi\nline", "z"] },
    ]);
  });

  it("reports an unclosed quote and still reads the following lines", () => {
    const { records, errors } = readCsvRecords('a,b\n"oops,1\nc,d\n');
    expect(errors).toEqual([{ line: 2, message: "line 2: quoted field is never closed" }]);
    expect(records.map((r) => r.fields)).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
  });
});

describe("parseIocCsv", () => {
  it("imports rows in any column order, with missing optional columns", () => {
    const text = [
      "value,source,type",
      "1.2.3.4,feedA,ip",
      "Evil.COM.,feedA,domain",
      "2001:DB8::0:1,feedB,ipv6",
      "10.0.0.0/8,feedB,ip",
      "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855,,sha256",
      "hxxp-not-used,feedC,domain",
    ].join("\n");
    const { iocs, errors } = parseIocCsv(text, { defaultSource: "upload.csv" });
    expect(errors.map((e) => e.line)).toEqual([7]);
    expect(iocs).toEqual([
      { kind: "ip", value: "1.2.3.4", confidence: 50, source: "feedA" },
      { kind: "domain", value: "evil.com", confidence: 50, source: "feedA" },
      { kind: "ip", value: "2001:db8::1", confidence: 50, source: "feedB" },
      { kind: "cidr", value: "10.0.0.0/8", confidence: 50, source: "feedB" },
      { kind: "sha256", value: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", confidence: 50, source: "upload.csv" },
    ]);
  });

  it("reads confidence, quoted descriptions with commas, expiry and tags", () => {
    const text = 'type,value,confidence,source,description,expires,tags\ndomain,evil[.]com,high,otx,"C2, seen in ""op x""",2030-01-01T00:00:00Z,c2;apt\n';
    const { iocs, errors } = parseIocCsv(text);
    expect(errors).toEqual([]);
    expect(iocs[0]).toEqual({
      kind: "domain",
      value: "evil.com",
      confidence: 85,
      source: "otx",
      description: 'C2, seen in "op x"',
      expiresAtMs: Date.parse("2030-01-01T00:00:00Z"),
      tags: ["c2", "apt"],
    });
  });

  it("names the line and field of each bad row and keeps the good ones", () => {
    const text = [
      "type,value,confidence,source,description",
      "ip,1.2.3.4,90,a,ok",
      "ip,1.2.3.999,90,a,bad ip",
      "sha256,abc,90,a,short hash",
      "md5,d41d8cd98f00b204e9800998ecf8427e,90,a,unsupported",
      "domain,evil.com,150,a,bad confidence",
      "domain,evil.com,90,a,desc,extra",
      "domain,good.org,,a",
    ].join("\n");
    const { iocs, errors } = parseIocCsv(text);
    expect(iocs.map((i) => i.value)).toEqual(["1.2.3.4", "good.org"]);
    expect(errors).toEqual([
      { line: 3, field: "value", message: "line 3: '1.2.3.999' is not an IP address" },
      { line: 4, field: "value", message: expect.stringMatching(/^line 4: 'abc' is not a SHA-256/) },
      { line: 5, field: "type", message: expect.stringMatching(/^line 5: unsupported IOC type 'md5'/) },
      { line: 6, field: "confidence", message: "line 6: confidence 150 is outside 0-100" },
      { line: 7, message: expect.stringMatching(/^line 7: 6 fields but the header has 5/) },
    ]);
  });

  it("refuses a header without type or value, and empty input", () => {
    expect(parseIocCsv("ioc_kind,thing\nip,1.2.3.4").errors[0]?.message).toMatch(/line 1: header lacks required column\(s\) value/);
    expect(parseIocCsv("").errors[0]?.message).toMatch(/no header row/);
  });

  it("refuses single-label domains and IPs given as domains", () => {
    const { errors } = parseIocCsv("type,value\ndomain,localhost\ndomain,1.2.3.4\ndomain,bad_.-x.com\n");
    expect(errors.map((e) => e.line)).toEqual([2, 3, 4]);
  });

  it("infers the kind per value when a single-kind feed has no type column", () => {
    const r = parseIocCsv("ip_address,first_seen\n203.0.113.7,2024-01-01\n10.0.0.0/8,x\nevil[.]example,x\n" + "a".repeat(64) + ",x\n");
    expect(r.errors).toEqual([]);
    expect(r.iocs.map((i) => [i.kind, i.value])).toEqual([
      ["ip", "203.0.113.7"],
      ["cidr", "10.0.0.0/8"],
      ["domain", "evil.example"],
      ["sha256", "a".repeat(64)],
    ]);
  });
});
