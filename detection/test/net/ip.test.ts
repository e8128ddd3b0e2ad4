import { describe, expect, it } from "vitest";
import { cidrContains, formatIp, parseCidr, parseIp, unmapV4 } from "../../src/net/ip";

const canon = (s: string): string | undefined => {
  const ip = parseIp(s);
  return ip && formatIp(ip);
};

describe("IP parsing and canonical form", () => {
  it("formats IPv6 per RFC 5952", () => {
    expect(canon("2001:0DB8:0000:0000:0000:0000:0000:0001")).toBe("2001:db8::1");
    expect(canon("2001:db8:0:0:1:0:0:1")).toBe("2001:db8::1:0:0:1"); // first of equal runs
    expect(canon("2001:db8:0:1:1:1:1:1")).toBe("2001:db8:0:1:1:1:1:1"); // a single zero group is not compressed
    expect(canon("::")).toBe("::");
    expect(canon("::1")).toBe("::1");
    expect(canon("fe80::")).toBe("fe80::");
    expect(canon("::ffff:10.0.0.1")).toBe("::ffff:10.0.0.1");
    expect(canon("::FFFF:0a00:0001")).toBe("::ffff:10.0.0.1");
  });

  it("refuses malformed addresses", () => {
    for (const bad of ["1.2.3", "1.2.3.256", "01.2.3.4", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8", "12345::", "fe80::1%eth0", "", "1.2.3.4.5"]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it("drops zone ids only when asked", () => {
    expect(formatIp(parseIp("fe80::1%eth0", { allowZone: true })!)).toBe("fe80::1");
  });

  it("unmaps IPv4-mapped IPv6", () => {
    expect(formatIp(unmapV4(parseIp("::ffff:192.0.2.7")!)!)).toBe("192.0.2.7");
    expect(unmapV4(parseIp("2001:db8::1")!)).toBeUndefined();
  });

  it("parses CIDRs, clears host bits and reports them", () => {
    const c = parseCidr("10.1.2.3/8");
    expect(c.ok && c.hostBitsSet).toBe(true);
    expect(c.ok && formatIp({ version: 4, value: c.cidr.network })).toBe("10.0.0.0");
    expect(parseCidr("10.0.0.0/33")).toMatchObject({ ok: false, error: expect.stringContaining("longer than 32") });
    expect(parseCidr("2001:db8::/129").ok).toBe(false);
    expect(parseCidr("2001:db8::/0").ok).toBe(true);
    const v6 = parseCidr("2001:db8:abcd::/48");
    expect(v6.ok && cidrContains(v6.cidr, parseIp("2001:db8:abcd:12::1")!)).toBe(true);
    expect(v6.ok && cidrContains(v6.cidr, parseIp("2001:db8:abce::1")!)).toBe(false);
    expect(v6.ok && cidrContains(v6.cidr, parseIp("10.0.0.1")!)).toBe(false);
  });
});
