import { formatIp, maskOf, parseCidr, parseIp, unmapV4, type IpAddress, type IpVersion } from "./ip";
import type { Ioc } from "./types";

export interface IocIndexOptions {
  /**
   * "all" (default) returns every CIDR containing the address, so each feed's confidence counts;
   * "longest" returns only the most specific prefix, as a router would.
   */
  cidrMatch?: "all" | "longest";
}

/** CIDRs of one family, bucketed by prefix length: a lookup costs one map probe per distinct length. */
interface CidrTable {
  /** Distinct prefix lengths, longest first, with their masks precomputed. */
  prefixes: { prefix: number; mask: bigint; nets: Map<bigint, Ioc[]> }[];
}

function push<K>(map: Map<K, Ioc[]>, key: K, ioc: Ioc): void {
  const list = map.get(key);
  if (list) list.push(ioc);
  else map.set(key, [ioc]);
}

function live(list: readonly Ioc[] | undefined, nowMs: number | undefined): Ioc[] {
  if (!list) return [];
  if (nowMs === undefined) return [...list];
  return list.filter((i) => i.expiresAtMs === undefined || i.expiresAtMs > nowMs);
}

/**
 * Lookup structure over a set of normalised IOCs, built once per IOC set and then shared read-only.
 * Expiry is checked at lookup time (against the time the caller passes) so one index serves replays
 * of old events as well as live ones.
 */
export class IocIndex {
  private readonly ips = new Map<string, Ioc[]>();
  private readonly domains = new Map<string, Ioc[]>();
  private readonly hashes = new Map<string, Ioc[]>();
  private readonly cidrs: Record<IpVersion, CidrTable> = { 4: { prefixes: [] }, 6: { prefixes: [] } };
  private readonly cidrMatch: "all" | "longest";
  readonly size: number;

  constructor(iocs: Iterable<Ioc>, opts: IocIndexOptions = {}) {
    this.cidrMatch = opts.cidrMatch ?? "all";
    const byPrefix: Record<IpVersion, Map<number, Map<bigint, Ioc[]>>> = { 4: new Map(), 6: new Map() };
    let size = 0;
    for (const ioc of iocs) {
      size++;
      switch (ioc.kind) {
        case "ip": {
          const ip = parseIp(ioc.value);
          if (!ip) throw new Error(`IOC ${ioc.kind} '${ioc.value}' from ${ioc.source} is not normalised; parse it with the IOC parsers first`);
          push(this.ips, formatIp(ip), ioc);
          break;
        }
        case "cidr": {
          const c = parseCidr(ioc.value);
          if (!c.ok) throw new Error(`IOC cidr '${ioc.value}' from ${ioc.source}: ${c.error}`);
          let nets = byPrefix[c.cidr.version].get(c.cidr.prefix);
          if (!nets) byPrefix[c.cidr.version].set(c.cidr.prefix, (nets = new Map()));
          push(nets, c.cidr.network, ioc);
          break;
        }
        case "domain":
          push(this.domains, ioc.value.toLowerCase(), ioc);
          break;
        case "sha256":
          push(this.hashes, ioc.value.toLowerCase(), ioc);
          break;
      }
    }
    for (const v of [4, 6] as const) {
      this.cidrs[v].prefixes = [...byPrefix[v].entries()]
        .sort((a, b) => b[0] - a[0])
        .map(([prefix, nets]) => ({ prefix, mask: maskOf(v, prefix), nets }));
    }
    this.size = size;
  }

  /** IOCs matching an address as seen on a host (zone ids dropped, IPv4-mapped IPv6 unmapped). */
  matchIp(address: string, nowMs?: number): Ioc[] {
    const ip = parseIp(address, { allowZone: true });
    if (!ip) return [];
    const v4 = unmapV4(ip);
    const hits = this.matchParsedIp(ip, nowMs);
    return v4 ? hits.concat(this.matchParsedIp(v4, nowMs)) : hits;
  }

  private matchParsedIp(ip: IpAddress, nowMs: number | undefined): Ioc[] {
    const hits = live(this.ips.get(formatIp(ip)), nowMs);
    for (const { mask, nets } of this.cidrs[ip.version].prefixes) {
      const found = live(nets.get(ip.value & mask), nowMs);
      if (found.length === 0) continue;
      hits.push(...found);
      if (this.cidrMatch === "longest") break;
    }
    return hits;
  }

  /** IOCs for the name or any parent domain: an IOC evil.com matches a.b.evil.com. */
  matchDomain(name: string, nowMs?: number): Ioc[] {
    let n = name.trim().toLowerCase();
    if (n.endsWith(".")) n = n.slice(0, -1);
    // A DNS name has at most 253 characters; longer text would cost a hash per dot (quadratic).
    if (n === "" || n.length > 253) return [];
    const hits: Ioc[] = [];
    for (let at = 0; at >= 0; ) {
      hits.push(...live(this.domains.get(n.slice(at)), nowMs));
      const dot = n.indexOf(".", at);
      at = dot < 0 ? -1 : dot + 1;
    }
    return hits;
  }

  matchSha256(hash: string, nowMs?: number): Ioc[] {
    const h = hash.trim().toLowerCase();
    return h.length === 64 ? live(this.hashes.get(h), nowMs) : [];
  }
}

export function buildIocIndex(iocs: Iterable<Ioc>, opts?: IocIndexOptions): IocIndex {
  return new IocIndex(iocs, opts);
}

