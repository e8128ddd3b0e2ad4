import { describe, expect, it } from "vitest";
import { parseStixPattern, type PatternParse } from "../../src/ioc/stix-pattern";

const vals = (r: PatternParse): string[] => (r.ok ? r.values.map((v) => `${v.kind}${v.family ?? ""} ${v.value}`) : [`refused: ${r.reason}`]);
const reason = (p: string): string => {
  const r = parseStixPattern(p);
  if (r.ok) throw new Error(`accepted: ${p}`);
  return r.reason;
};

describe("STIX pattern forms seen in real feeds", () => {
  it("plain comparisons, every spelling of the SHA-256 hash name, blanks and line breaks anywhere", () => {
    const h = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for (const p of [
      `[file:hashes.'SHA-256' = '${h}']`, // STIX 2.1 spec, OpenCTI, Unit 42
      `[file:hashes.SHA256 = '${h}']`, // MISP
      `[file:hashes.'sha256' = '${h}']`,
      `[ file:hashes.SHA-256 = '${h}' ]`, // OASIS 2.0 examples: unquoted hyphen, blanks inside
      `[file:hashes:sha256 = '${h}']`, // OASIS example with ':' for '.'
      `[\n\tfile:hashes.'SHA-256'='${h}'\n]`,
    ]) {
      expect(vals(parseStixPattern(p)), p).toEqual([`sha256 ${h}`]);
    }
    expect(vals(parseStixPattern("[ipv4-addr:value='198.51.100.1']"))).toEqual(["ip4 198.51.100.1"]);
    expect(vals(parseStixPattern("[IPV6-ADDR:value = '2001:db8::1'] or [domain-name:value = 'a.example']"))).toEqual(["ip6 2001:db8::1", "domain a.example"]);
  });

  it("OR between and inside observations, IN lists, escaped quotes, ISSUBSET and CIDR values", () => {
    expect(vals(parseStixPattern("[ipv4-addr:value = '192.0.2.1'] OR [ipv4-addr:value = '192.0.2.2']"))).toEqual(["ip4 192.0.2.1", "ip4 192.0.2.2"]);
    expect(vals(parseStixPattern("[ipv4-addr:value = '192.0.2.1' OR ipv4-addr:value = '192.0.2.2']"))).toEqual(["ip4 192.0.2.1", "ip4 192.0.2.2"]);
    expect(vals(parseStixPattern("[domain-name:value IN ('a.example', 'it\\'s.example')]"))).toEqual(["domain a.example", "domain it's.example"]);
    expect(vals(parseStixPattern("[ipv4-addr:value ISSUBSET '198.51.100.0/24']"))).toEqual(["ip4 198.51.100.0/24"]);
    expect(vals(parseStixPattern("[network-traffic:dst_ref.value ISSUBSET '2001:db8::/32']"))).toEqual(["ip6 2001:db8::/32"]);
  });

  it("network-traffic references: the address or host, its type checked, ports and protocols dropped", () => {
    expect(vals(parseStixPattern("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.5']"))).toEqual(["ip4 203.0.113.5"]);
    expect(vals(parseStixPattern("[network-traffic:src_ref.value = '203.0.113.6' AND network-traffic:dst_port = 22 AND network-traffic:protocols[*] = 'tcp']"))).toEqual(["ip4 203.0.113.6"]);
    expect(vals(parseStixPattern("[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'c2.example']"))).toEqual(["domain c2.example"]);
    // The stated type wins over the value's shape: '::1' promised as IPv4 is caught later (stix.ts).
    expect(vals(parseStixPattern("[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '::1']"))).toEqual(["ip4 ::1"]);
    expect(reason("[network-traffic:dst_ref.type = 'mac-addr' AND network-traffic:dst_ref.value = '00:00:5e:00:53:01']")).toMatch(/of type 'mac-addr' is not supported/);
  });

  it("AND with conditions that only narrow the same object keeps the one value", () => {
    const h = "ab".repeat(32);
    expect(vals(parseStixPattern(`[file:name = 'x.exe' AND file:size = 1024 AND file:hashes.MD5 = '${"cd".repeat(16)}' AND file:hashes.'SHA-256' = '${h}']`))).toEqual([`sha256 ${h}`]);
    expect(vals(parseStixPattern("[domain-name:value = 'a.example' AND domain-name:resolves_to_refs[*].value = '192.0.2.9']"))).toEqual(["domain a.example"]);
    expect(vals(parseStixPattern("[ ipv4-addr:value = '198.0.2.12' AND network-traffic:dst_port = '8000' ]"))).toEqual(["ip4 198.0.2.12"]);
    // A PE section's hash is not the file's: only the file's own SHA-256 counts.
    expect(reason(`[file:extensions.'windows-pebinary-ext'.sections[0].hashes.SHA256 = '${h}']`)).toMatch(
      /object path 'file:extensions\.windows-pebinary-ext\.sections\[0\]\.hashes\.SHA256' is not supported/,
    );
    expect(vals(parseStixPattern("[(domain-name:value = 'a.example' OR domain-name:value = 'b.example') AND network-traffic:dst_port = 443]"))).toEqual(["domain a.example", "domain b.example"]);
  });

  it("AND of two values or two objects, across observations, FOLLOWEDBY: refused, since one value alone would match more", () => {
    expect(reason("[ipv4-addr:value = '192.0.2.1'] AND [domain-name:value = 'a.example']")).toMatch(/^observation operator AND is not supported/);
    expect(reason("[ipv4-addr:value = '192.0.2.1' AND domain-name:value = 'a.example']")).toMatch(/^AND is not supported between two values \('192\.0\.2\.1' and 'a\.example'\)/);
    expect(reason("[network-traffic:src_ref.value = '192.0.2.1' AND network-traffic:dst_ref.value = '192.0.2.2']")).toMatch(/two values/);
    expect(reason("[file:hashes.'SHA-256' = '" + "ab".repeat(32) + "' AND process:name = 'x.exe']")).toMatch(/between file:hashes\.SHA-256 and process:name \(two objects\)/);
    expect(reason("[domain-name:value = 'a.example'] FOLLOWEDBY [ipv4-addr:value = '192.0.2.1']")).toMatch(/FOLLOWEDBY is not supported/);
    // The OR still loads what stands alone.
    expect(parseStixPattern("[domain-name:value = 'a.example'] OR ([ipv4-addr:value = '192.0.2.1'] AND [ipv4-addr:value = '192.0.2.2'])")).toEqual({
      ok: true,
      values: [{ kind: "domain", value: "a.example" }],
      refused: [{ reason: expect.stringMatching(/^observation operator AND/) }],
    });
  });

  it("qualifiers: START/STOP becomes a validity window (2.1 t'...' or 2.0 plain strings); WITHIN and REPEATS are refused", () => {
    expect(parseStixPattern("[ipv4-addr:value = '192.0.2.1'] START t'2024-01-01T00:00:00Z' STOP t'2024-02-01T00:00:00Z'")).toEqual({
      ok: true,
      values: [{ kind: "ip", family: 4, value: "192.0.2.1", startMs: Date.parse("2024-01-01T00:00:00Z"), stopMs: Date.parse("2024-02-01T00:00:00Z") }],
    });
    expect(parseStixPattern("[ipv4-addr:value = '192.0.2.1'] START '2024-01-01T00:00:00Z' STOP '2024-02-01T00:00:00Z'")).toMatchObject({ ok: true });
    expect(reason("[ipv4-addr:value = '192.0.2.1'] REPEATS 5 TIMES WITHIN 1800 SECONDS")).toMatch(/qualifier REPEATS/);
    expect(reason("([ipv4-addr:value = '192.0.2.1'] AND [ipv4-addr:value = '192.0.2.2']) WITHIN 300 SECONDS")).toMatch(/observation operator AND/);
    expect(reason("[ipv4-addr:value = '192.0.2.1'] START t'not a time' STOP t'2024-02-01T00:00:00Z'")).toMatch(/START needs a timestamp/);
  });

  it("kinds Vigil cannot match are refused with the kind to count them under", () => {
    const refusal = (p: string) => {
      const r = parseStixPattern(p);
      return r.ok ? undefined : r.refused[0];
    };
    expect(refusal("[url:value = 'http://a.example/x']")).toMatchObject({ kind: "url", reason: expect.stringMatching(/Vigil events carry no URLs/) });
    expect(refusal("[email-addr:value = 'a@example.com']")).toMatchObject({ kind: "email" });
    expect(refusal("[file:hashes.MD5 = '" + "d4".repeat(16) + "']")).toMatchObject({ kind: "md5" });
    expect(refusal("[file:hashes.'SHA-1' = '" + "d4".repeat(20) + "']")).toMatchObject({ kind: "sha1" });
    expect(refusal("[file:hashes.'SHA-512' = 'x']")).toMatchObject({ kind: "sha512" });
    expect(refusal("[file:name = 'a.exe' AND file:hashes.SSDEEP = '3:a:b']")).toMatchObject({ kind: "ssdeep" });
    expect(refusal("[x509-certificate:hashes.'SHA-256' = 'x']")).toMatchObject({ kind: "x509-certificate" });
    expect(refusal("[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\x']")).toMatchObject({ kind: "windows-registry-key" });
    // Supported kinds with operators that have no exact reading are refused without a kind.
    expect(refusal("[domain-name:value LIKE '%.example']")).toEqual({ reason: expect.stringMatching(/operator LIKE is not supported/) });
    expect(refusal("[NOT domain-name:value = 'a.example']")).toEqual({ reason: expect.stringMatching(/operator NOT = is not supported/) });
    expect(refusal("[domain-name:value NOT IN ('a.example')]")).toEqual({ reason: expect.stringMatching(/operator NOT IN/) });
  });

  it("other constants (numbers, booleans, t'', h'', b'') and EXISTS parse in the conditions that are dropped", () => {
    expect(
      vals(
        parseStixPattern(
          "[network-traffic:dst_ref.value = '192.0.2.7' AND network-traffic:is_active = true AND network-traffic:src_byte_count > 1.5 AND network-traffic:start > t'2024-01-01T00:00:00Z' AND network-traffic:src_payload_ref.payload_bin = b'aGk=' AND network-traffic:ipfix.x = h'ff' AND EXISTS network-traffic:protocols[0] AND network-traffic:dst_port >= -1]",
        ),
      ),
    ).toEqual(["ip4 192.0.2.7"]);
  });

  it("bounds: alternatives multiplied by AND are capped; a long IN list is fine", () => {
    const list = (n: number, p: string) => `(${Array.from({ length: n }, (_, i) => `'${p}${i}.example'`).join(", ")})`;
    expect(parseStixPattern(`[domain-name:value IN ${list(20_000, "a")}]`)).toMatchObject({ ok: true });
    const big = `[(domain-name:value IN ${list(400, "a")}) AND (domain-name:resolves_to_refs[*].value IN ${list(400, "b")})]`;
    expect(reason(big)).toMatch(/more than 100000 alternatives/);
  });
});
