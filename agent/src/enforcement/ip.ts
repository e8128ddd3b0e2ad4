import { formatPrefix, parsePrefix as parseNetPrefix, cidrCovers, type Cidr } from "@vigil/detection";

/** An address or prefix, normalised, safe to splice into an nft ruleset. */
export interface IpPrefix {
  family: 4 | 6;
  /** Canonical text for nft: "10.0.0.1", "10.0.0.0/8", "2001:db8::/32". */
  text: string;
  bits: bigint;
  len: number;
}

/**
 * Parses "addr" or "addr/len" with the shared IP module (detection/net). Only a literal address
 * reaches nft, which is what keeps a hostile parameter from injecting ruleset syntax.
 */
export function parsePrefix(input: string): IpPrefix {
  const parsed = parseNetPrefix(input);
  if (!parsed.ok) {
    const shown = JSON.stringify(input.slice(0, 80));
    throw new Error(/^prefix /.test(parsed.error) ? `bad prefix length in ${shown}` : `not an IP address or CIDR: ${shown}`);
  }
  const c = parsed.cidr;
  // nft refuses "10.0.0.1/8" (host bits set): the text is the network address.
  return { family: c.version, text: formatPrefix(c), bits: c.network, len: c.prefix };
}

function toCidr(p: IpPrefix): Cidr {
  return { version: p.family, network: p.bits, prefix: p.len };
}

/** Whether `outer` contains every address of `inner`. */
export function prefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  return cidrCovers(toCidr(outer), toCidr(inner));
}
