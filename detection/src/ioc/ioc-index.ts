import { formatIp, maskOf, parseCidr, parseIp, unmapV4, type IpAddress, type IpVersion } from "../net/ip";
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
  prefixes: { prefix: number; mask: bigint; nets: ShardedMap<bigint, Entry> }[];
}

const SHARDS = 64;

/**
 * A map split into SHARDS maps by a hash of the key. A Map grows by rehashing its whole table in
 * one step: at a million IOCs that is tens of milliseconds of a blocked thread, here it is a
 * sixty-fourth of it.
 */
class ShardedMap<K extends string | bigint, V> {
  private readonly shards: Map<K, V>[] = Array.from({ length: SHARDS }, () => new Map<K, V>());

  private shard(key: K): Map<K, V> {
    if (typeof key === "bigint") {
      // Network addresses end in zero bits (a /24, a /64): fold the high bits down before picking.
      let x: bigint = key;
      x ^= x >> 64n;
      x ^= x >> 32n;
      x ^= x >> 16n;
      x ^= x >> 8n;
      return this.shards[Number(x & 63n)]!;
    }
    let h = 0;
    for (let i = Math.max(0, key.length - 12); i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) | 0;
    return this.shards[h & (SHARDS - 1)]!;
  }

  get(key: K): V | undefined {
    return this.shard(key).get(key);
  }

  set(key: K, value: V): void {
    this.shard(key).set(key, value);
  }
}

/** What a key holds: one IOC (nearly always), or several when sources agree. One object less per IOC for the collector. */
type Entry = Ioc | Ioc[];

/** Adds the IOC under key; with replace, an entry from the same source is replaced instead. True when added. */
function push<K extends string | bigint>(map: ShardedMap<K, Entry>, key: K, ioc: Ioc, replace = false): boolean {
  const cur = map.get(key);
  if (cur === undefined) {
    map.set(key, ioc);
    return true;
  }
  if (!Array.isArray(cur)) {
    if (replace && cur.source === ioc.source) {
      map.set(key, ioc);
      return false;
    }
    map.set(key, [cur, ioc]);
    return true;
  }
  const at = replace ? cur.findIndex((x) => x.source === ioc.source) : -1;
  if (at >= 0) {
    cur[at] = ioc;
    return false;
  }
  cur.push(ioc);
  return true;
}

function live(entry: Entry | undefined, nowMs: number | undefined): Ioc[] {
  if (entry === undefined) return [];
  const list = Array.isArray(entry) ? entry : [entry];
  if (nowMs === undefined) return Array.isArray(entry) ? [...list] : list;
  return list.filter((i) => i.expiresAtMs === undefined || i.expiresAtMs > nowMs);
}

/**
 * Lookup structure over a set of normalised IOCs, built once per IOC set and then shared read-only.
 * Expiry is checked at lookup time (against the time the caller passes) so one index serves replays
 * of old events as well as live ones.
 */
export class IocIndex {
  private readonly ips = new ShardedMap<string, Entry>();
  private readonly domains = new ShardedMap<string, Entry>();
  private readonly hashes = new ShardedMap<string, Entry>();
  private readonly cidrs: Record<IpVersion, CidrTable> = { 4: { prefixes: [] }, 6: { prefixes: [] } };
  private readonly cidrMatch: "all" | "longest";

  private readonly byPrefix: Record<IpVersion, Map<number, ShardedMap<bigint, Entry>>> = { 4: new Map(), 6: new Map() };
  private count = 0;

  constructor(iocs: Iterable<Ioc>, opts: IocIndexOptions = {}) {
    this.cidrMatch = opts.cidrMatch ?? "all";
    for (const ioc of iocs) this.add(ioc);
    this.seal();
  }

  get size(): number {
    return this.count;
  }

  /**
   * Adds one IOC. Only for an index under construction (see IocIndexBuilder): a large set is
   * added in slices, then seal() makes the CIDR tables current, and only then is it shared.
   */
  add(ioc: Ioc): void {
    this.put(ioc, false);
  }

  /**
   * Adds the IOC to a live index, or replaces the entry with the same kind, value and source (what
   * a database upsert does), so an import updates the index in place instead of rebuilding it.
   */
  upsert(ioc: Ioc): void {
    if (this.put(ioc, true)) this.seal();
  }

  /** True when a new CIDR prefix length appeared (the lookup tables then need seal()). */
  private put(ioc: Ioc, replace: boolean): boolean {
    let added: boolean;
    let newPrefix = false;
    switch (ioc.kind) {
      case "ip": {
        const ip = parseIp(ioc.value);
        if (!ip) throw new Error(`IOC ${ioc.kind} '${ioc.value}' from ${ioc.source} is not normalised; parse it with the IOC parsers first`);
        // A normalised IOC's value is its key: keep that string rather than a second, equal one.
        const key = formatIp(ip);
        added = push(this.ips, key === ioc.value ? ioc.value : key, ioc, replace);
        break;
      }
      case "cidr": {
        const c = parseCidr(ioc.value);
        if (!c.ok) throw new Error(`IOC cidr '${ioc.value}' from ${ioc.source}: ${c.error}`);
        let nets = this.byPrefix[c.cidr.version].get(c.cidr.prefix);
        if (!nets) {
          this.byPrefix[c.cidr.version].set(c.cidr.prefix, (nets = new ShardedMap()));
          newPrefix = true;
        }
        added = push(nets, c.cidr.network, ioc, replace);
        break;
      }
      case "domain":
        added = push(this.domains, ioc.value.toLowerCase(), ioc, replace);
        break;
      case "sha256":
        added = push(this.hashes, ioc.value.toLowerCase(), ioc, replace);
        break;
    }
    if (added) this.count++;
    return newPrefix;
  }

  seal(): this {
    for (const v of [4, 6] as const) {
      this.cidrs[v].prefixes = [...this.byPrefix[v].entries()].sort((a, b) => b[0] - a[0]).map(([prefix, nets]) => ({ prefix, mask: maskOf(v, prefix), nets }));
    }
    return this;
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
    for (let at = 0; at >= 0;) {
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
