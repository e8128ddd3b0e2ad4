import { BlockList, isIP } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cidrContains, cidrCovers, formatHostIp, formatIp, formatPrefix, ipFromBytes, MAX_IP_TEXT, parseCidr, parseIp, parsePrefix } from "../../src/net/ip";

const v4Bytes = fc.uint8Array({ minLength: 4, maxLength: 4 });
const v6Bytes = fc.uint8Array({ minLength: 16, maxLength: 16 });
const anyBytes = fc.oneof(v4Bytes, v6Bytes);
/** Biased toward zero runs so that "::" compression is exercised, not only random groups. */
const v6Groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });

function groupsToBytes(groups: number[]): number[] {
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

describe("IP module properties (fast-check)", () => {
  it("canonical text round-trips: bytes → text → the same address, and the text is canonical (idempotent)", () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => {
        const ip = ipFromBytes(bytes);
        const text = formatIp(ip);
        const back = parseIp(text);
        expect(back).toEqual(ip);
        expect(formatIp(back!)).toBe(text);
        expect(isIP(text)).toBe(ip.version);
      }),
    );
  });

  it("any spelling of an IPv6 address (full, upper case, leading zeros) parses to the value of its groups", () => {
    fc.assert(
      fc.property(v6Groups, fc.boolean(), fc.boolean(), (groups, upper, padded) => {
        let text = groups.map((g) => (padded ? g.toString(16).padStart(4, "0") : g.toString(16))).join(":");
        if (upper) text = text.toUpperCase();
        expect(parseIp(text)).toEqual(ipFromBytes(groupsToBytes(groups)));
      }),
    );
  });

  it('canonical IPv6 text is lower case, without leading zeros, with at most one "::" (RFC 5952)', () => {
    fc.assert(
      fc.property(v6Groups, (groups) => {
        const text = formatIp(ipFromBytes(groupsToBytes(groups)));
        expect(text).not.toMatch(/(^|:)0[0-9a-f]/); // no leading zeros
        expect(text.split("::").length).toBeLessThanOrEqual(2);
        expect(text).toBe(text.toLowerCase());
      }),
    );
  });

  it("CIDR containment agrees with Node's BlockList for random networks and addresses", () => {
    fc.assert(
      fc.property(fc.boolean(), v6Bytes, v6Bytes, fc.integer({ min: 0, max: 128 }), (v4, netBytes, addrBytes, rawLen) => {
        const width = v4 ? 32 : 128;
        const len = rawLen % (width + 1);
        const netIp = ipFromBytes(v4 ? netBytes.subarray(0, 4) : netBytes);
        // Half the time the address shares the network's first bytes, so both answers occur.
        const addr = ipFromBytes(v4 ? addrBytes.subarray(0, 4) : addrBytes);
        const near = { ...addr, value: (netIp.value & ~((1n << BigInt(width - len)) - 1n)) | (addr.value & ((1n << BigInt(width - len)) - 1n)) };
        const parsed = parseCidr(`${formatIp(netIp)}/${len}`);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        const list = new BlockList();
        list.addSubnet(formatIp({ version: netIp.version, value: parsed.cidr.network }), len, v4 ? "ipv4" : "ipv6");
        for (const a of [addr, near]) {
          expect(cidrContains(parsed.cidr, a)).toBe(list.check(formatIp(a), v4 ? "ipv4" : "ipv6"));
        }
        expect(cidrContains(parsed.cidr, near)).toBe(true);
      }),
    );
  });

  it("a prefix covers every prefix inside it and the host it was parsed from", () => {
    fc.assert(
      fc.property(anyBytes, fc.integer({ min: 0, max: 128 }), fc.integer({ min: 0, max: 128 }), (bytes, a, b) => {
        const ip = ipFromBytes(bytes);
        const width = ip.version === 4 ? 32 : 128;
        const [outerLen, innerLen] = [a % (width + 1), b % (width + 1)].sort((x, y) => x - y) as [number, number];
        const outer = parsePrefix(`${formatIp(ip)}/${outerLen}`);
        const inner = parsePrefix(`${formatIp(ip)}/${innerLen}`);
        const host = parsePrefix(formatIp(ip));
        if (!outer.ok || !inner.ok || !host.ok) throw new Error("valid prefixes refused");
        expect(cidrCovers(outer.cidr, inner.cidr)).toBe(true);
        expect(cidrCovers(outer.cidr, host.cidr)).toBe(true);
        expect(cidrCovers(inner.cidr, outer.cidr)).toBe(outerLen === innerLen);
        expect(formatPrefix(host.cidr)).toBe(formatIp(ip));
      }),
    );
  });

  it("hostile text never throws, and text over the bound is refused before it is parsed", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        const ip = parseIp(s, { allowZone: true });
        const c = parseCidr(s);
        const p = parsePrefix(s);
        if (s.length > MAX_IP_TEXT) {
          expect(ip).toBeUndefined();
          expect(c.ok).toBe(false);
          expect(p.ok).toBe(false);
        }
        if (ip && !s.includes("%")) expect(isIP(s.trim().replace(/^\[(.*)\]$/, "$1"))).toBe(ip.version);
      }),
    );
    expect(parseIp(`${"0:".repeat(40)}1`)).toBeUndefined();
    expect(parsePrefix("1".repeat(10_000)).ok).toBe(false);
  });

  it("host addresses from kernel bytes: v4-mapped IPv6 reads as IPv4", () => {
    expect(formatHostIp([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1])).toBe("127.0.0.1");
    expect(formatHostIp([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])).toBe("2001:db8::1");
    expect(() => ipFromBytes([1, 2, 3])).toThrow(/4 or 16 bytes/);
  });
});
