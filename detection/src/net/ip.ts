/**
 * IPv4/IPv6 parsing, canonical formatting and CIDR prefixes, written here rather than pulled in as
 * a dependency because the agent bundles this package and the needs are small and well specified.
 *
 * Addresses are held as bigint (v4 uses the low 32 bits) so one code path masks both families.
 */

export type IpVersion = 4 | 6;

export interface IpAddress {
  version: IpVersion;
  /** The address as an unsigned integer (32 bits for v4, 128 bits for v6). */
  value: bigint;
}

export interface Cidr {
  version: IpVersion;
  /** Network address with the host bits cleared. */
  network: bigint;
  prefix: number;
}

/**
 * Longest text looked at: a full IPv6 address with an embedded IPv4 tail (45), brackets, a zone
 * id (IFNAMSIZ 16) and a "/128" fit well inside it. Longer input is refused before any regex runs.
 */
export const MAX_IP_TEXT = 80;

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP_RE = /^[0-9a-fA-F]{1,4}$/;

export function bitsOf(version: IpVersion): number {
  return version === 4 ? 32 : 128;
}

function parseV4(text: string): bigint | undefined {
  const m = V4_RE.exec(text);
  if (!m) return undefined;
  let value = 0n;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    // Leading zeros are refused: "010" is octal to some parsers and decimal to others.
    if (part.length > 1 && part.startsWith("0")) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  let head = text;
  let tailV4: bigint | undefined;
  // An embedded dotted quad ("::ffff:1.2.3.4") stands for the last two groups.
  const lastColon = head.lastIndexOf(":");
  if (lastColon >= 0 && head.includes(".", lastColon)) {
    tailV4 = parseV4(head.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = head.slice(0, lastColon + 1) + "0:0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const toGroups = (s: string): string[] | undefined => {
    if (s === "") return [];
    const groups = s.split(":");
    return groups.every((g) => HEX_GROUP_RE.test(g)) ? groups : undefined;
  };
  const left = toGroups(halves[0] as string);
  if (!left) return undefined;
  let groups: string[];
  if (halves.length === 2) {
    const right = toGroups(halves[1] as string);
    if (!right) return undefined;
    const missing = 8 - left.length - right.length;
    // "::" must stand for at least one group.
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill("0"), ...right];
  } else {
    groups = left;
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(parseInt(g, 16));
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | tailV4;
  return value;
}

/**
 * Parses a literal IPv4 or IPv6 address. A zone id ("fe80::1%eth0") is dropped when
 * `allowZone` is set (addresses seen on the host carry them); IOC values never should.
 */
export function parseIp(text: string, opts: { allowZone?: boolean } = {}): IpAddress | undefined {
  if (text.length > MAX_IP_TEXT) return undefined;
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) {
    if (!opts.allowZone) return undefined;
    s = s.slice(0, zone);
  }
  if (s.includes(":")) {
    const v = parseV6(s);
    return v === undefined ? undefined : { version: 6, value: v };
  }
  const v = parseV4(s);
  return v === undefined ? undefined : { version: 4, value: v };
}

/** `::ffff:a.b.c.d` (how dual-stack sockets report IPv4 peers) as the IPv4 address it carries. */
export function unmapV4(ip: IpAddress): IpAddress | undefined {
  if (ip.version === 6 && ip.value >> 32n === 0xffffn) return { version: 4, value: ip.value & 0xffffffffn };
  return undefined;
}

function formatV4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join(".");
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (>= 2) of zero groups as "::". */
function formatV6(value: bigint): string {
  if (value >> 32n === 0xffffn) return `::ffff:${formatV4(value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  const left = hex.slice(0, bestStart).join(":");
  const right = hex.slice(bestStart + bestLen).join(":");
  return `${left}::${right}`;
}

export function formatIp(ip: IpAddress): string {
  return ip.version === 4 ? formatV4(ip.value) : formatV6(ip.value);
}

export function maskOf(version: IpVersion, prefix: number): bigint {
  const bits = BigInt(bitsOf(version));
  const all = (1n << bits) - 1n;
  return (all >> BigInt(prefix)) ^ all;
}

export type CidrParse = { ok: true; cidr: Cidr; hostBitsSet: boolean } | { ok: false; error: string };

/** Parses "net/prefix". Host bits are cleared (feeds often write 10.1.2.3/8) and reported. */
export function parseCidr(text: string): CidrParse {
  if (text.length > MAX_IP_TEXT) return { ok: false, error: `longer than ${MAX_IP_TEXT} characters` };
  const s = text.trim();
  const slash = s.indexOf("/");
  if (slash < 0) return { ok: false, error: `'${text}' has no /prefix` };
  const ip = parseIp(s.slice(0, slash));
  if (!ip) return { ok: false, error: `'${s.slice(0, slash)}' is not an IP address` };
  const prefixText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return { ok: false, error: `prefix '${prefixText}' is not a number` };
  const prefix = Number(prefixText);
  if (prefix > bitsOf(ip.version)) {
    return { ok: false, error: `prefix /${prefix} is longer than ${bitsOf(ip.version)} bits for IPv${ip.version}` };
  }
  const network = ip.value & maskOf(ip.version, prefix);
  return { ok: true, cidr: { version: ip.version, network, prefix }, hostBitsSet: network !== ip.value };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp({ version: c.version, value: c.network })}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: IpAddress): boolean {
  return c.version === ip.version && (ip.value & maskOf(c.version, c.prefix)) === c.network;
}

/**
 * "addr" (a /32 or /128) or "addr/len": what block and allow lists take. Host bits are cleared, as
 * parseCidr does. Agrees with the command contract's IP rule (a property test holds them together).
 */
export function parsePrefix(text: string): CidrParse {
  if (text.length > MAX_IP_TEXT) return { ok: false, error: `longer than ${MAX_IP_TEXT} characters` };
  // Strict, unlike feed parsing: exactly the address text (no padding, brackets or zone), as the
  // command contract checks it, so what the controller signs is what the agent applies.
  if (text !== text.trim() || text.startsWith("[")) return { ok: false, error: `'${text.slice(0, 80)}' is not a bare address or CIDR` };
  if (text.includes("/")) return parseCidr(text);
  const ip = parseIp(text);
  if (!ip) return { ok: false, error: `'${text}' is not an IP address` };
  return { ok: true, cidr: { version: ip.version, network: ip.value, prefix: bitsOf(ip.version) }, hostBitsSet: false };
}

/** A prefix as text: the bare address for a single host ("10.0.0.1"), "net/len" otherwise. */
export function formatPrefix(c: Cidr): string {
  return c.prefix === bitsOf(c.version) ? formatIp({ version: c.version, value: c.network }) : formatCidr(c);
}

/** Whether `outer` holds every address of `inner`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer.version === inner.version && outer.prefix <= inner.prefix && (inner.network & maskOf(outer.version, outer.prefix)) === outer.network;
}

/** An address from its network-order bytes (4 or 16), as sockets and kernel records carry it. */
export function ipFromBytes(bytes: ArrayLike<number>): IpAddress {
  if (bytes.length !== 4 && bytes.length !== 16) throw new Error(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  let value = 0n;
  for (let i = 0; i < bytes.length; i++) value = (value << 8n) | BigInt((bytes[i] as number) & 0xff);
  return { version: bytes.length === 4 ? 4 : 6, value };
}

/**
 * Text for an address seen on the host (/proc/net, eBPF records): an IPv4-mapped IPv6 address
 * (how a dual-stack socket reports an IPv4 peer) reads as the IPv4 address it carries.
 */
export function formatHostIp(bytes: ArrayLike<number>): string {
  const ip = ipFromBytes(bytes);
  return formatIp(unmapV4(ip) ?? ip);
}
