/** IPv4/IPv6 CIDR matching for the `cidr` modifier (no dependency: it is forty lines). */

/** Parse an IPv4 or IPv6 address into 16-bit groups (IPv4 → 2 groups), or null. */
export function parseIp(text: string): { v6: boolean; groups: number[] } | null {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!s.includes(":")) {
    const v4 = parseV4(s);
    return v4 ? { v6: false, groups: v4 } : null;
  }
  // An IPv4-mapped/compatible tail (::ffff:1.2.3.4) becomes two groups.
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  let tailGroups: number[] = [];
  if (tail.includes(".")) {
    const v4 = parseV4(tail);
    if (!v4) return null;
    tailGroups = v4;
    s = s.slice(0, lastColon + 1) + "0:0";
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const parseHalf = (h: string): number[] | null => {
    if (h === "") return [];
    const out: number[] = [];
    for (const g of h.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parseHalf(halves[0]);
  const rest = halves.length === 2 ? parseHalf(halves[1]) : [];
  if (!head || !rest) return null;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  if (tailGroups.length) groups.splice(6, 2, ...tailGroups);
  return { v6: true, groups };
}

function parseV4(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return null;
  return [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
}

export type IpTest = (value: string) => boolean;

/** Compile `10.0.0.0/8` or `fe80::/10` (a bare address means /32 or /128); throws on bad input. */
export function compileCidr(spec: string): IpTest {
  const [addr, lenText, extra] = spec.trim().split("/");
  const ip = parseIp(addr ?? "");
  if (!ip || extra !== undefined) throw new Error(`'${spec}' is not a CIDR network`);
  const max = ip.v6 ? 128 : 32;
  const len = lenText === undefined ? max : Number(lenText);
  if (!/^\d+$/.test(lenText ?? String(max)) || len > max) throw new Error(`'${spec}' has an invalid prefix length`);
  const net = ip.groups;
  return (value) => {
    const v = parseIp(value);
    if (!v) return false;
    let groups = v.groups;
    // An IPv4 address seen as ::ffff:a.b.c.d still belongs to an IPv4 network.
    if (!ip.v6 && v.v6) {
      const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
      if (!mapped) return false;
      groups = groups.slice(6);
    } else if (ip.v6 !== v.v6) return false;
    let bits = len;
    for (let i = 0; bits > 0; i++, bits -= 16) {
      const mask = bits >= 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
      if ((groups[i] & mask) !== (net[i] & mask)) return false;
    }
    return true;
  };
}
