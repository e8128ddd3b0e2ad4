import { isIP } from "node:net";

/** An address or prefix, normalised, safe to splice into an nft ruleset. */
export interface IpPrefix {
  family: 4 | 6;
  /** Canonical text for nft: "10.0.0.1", "10.0.0.0/8", "2001:db8::/32". */
  text: string;
  bits: bigint;
  len: number;
}

/**
 * Parses "addr" or "addr/len". Only what net.isIP accepts reaches nft, which is what
 * keeps a hostile parameter from injecting ruleset syntax.
 */
export function parsePrefix(input: string): IpPrefix {
  const slash = input.indexOf("/");
  const addr = slash === -1 ? input : input.slice(0, slash);
  const fam = isIP(addr);
  if (fam !== 4 && fam !== 6) throw new Error(`not an IP address or CIDR: ${JSON.stringify(input.slice(0, 80))}`);
  const width = fam === 4 ? 32 : 128;
  let len = width;
  if (slash !== -1) {
    const lenText = input.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > width) throw new Error(`bad prefix length in ${JSON.stringify(input.slice(0, 80))}`);
    len = Number(lenText);
  }
  const full = fam === 4 ? v4ToBig(addr) : v6ToBig(addr);
  const mask = len === 0 ? 0n : ((1n << BigInt(len)) - 1n) << BigInt(width - len);
  const bits = full & mask;
  // nft refuses "10.0.0.1/8" (host bits set), so canonicalise to the network address.
  const base = fam === 4 ? bigToV4(bits) : bigToV6(bits);
  return { family: fam, text: len === width ? base : `${base}/${len}`, bits, len };
}

/** Whether `outer` contains every address of `inner`. */
export function prefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  if (outer.family !== inner.family || outer.len > inner.len) return false;
  const width = outer.family === 4 ? 32 : 128;
  const mask = outer.len === 0 ? 0n : ((1n << BigInt(outer.len)) - 1n) << BigInt(width - outer.len);
  return (inner.bits & mask) === outer.bits;
}

function v4ToBig(a: string): bigint {
  return a.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function bigToV4(b: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => ((b >> s) & 255n).toString()).join(".");
}

function v6ToBig(a: string): bigint {
  let text = a;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes two hex groups.
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail?.[1]) {
    const n = v4ToBig(v4tail[1]);
    text = text.slice(0, -v4tail[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigToV6(b: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((b >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups, as RFC 5952 asks.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart === -1) return groups.join(":");
  return `${groups.slice(0, bestStart).join(":")}::${groups.slice(bestStart + bestLen).join(":")}`;
}
