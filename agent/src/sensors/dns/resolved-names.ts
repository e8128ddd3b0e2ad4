/**
 * Which name a recent DNS answer on this host gave an address: what lets a connection to
 * 203.0.113.7 read as `updates.example.com` (Sigma DestinationHostname). Bounded twice: each entry
 * lives as long as the answer's TTL (clamped, see below), and at most `maxEntries` are kept, the
 * least recently used going first, so a flood of answers costs a fixed amount of memory.
 *
 * A name is what a DNS answer on this host said, not a verified fact: any process can look up a
 * name at a server it runs. So an answer is remembered twice, for the process that received it and
 * for the host, and a connection is named by its own process's answer first; the host's answer
 * names connections of processes that did not look the address up themselves (through nscd, or a
 * literal address another process had looked up).
 */

export interface ResolvedNamesOptions {
  /** Entries remembered at once (each answer is two: the process's and the host's). Default 8192. */
  maxEntries?: number;
  /**
   * An answer is kept at least this long, whatever its TTL: a TTL of 0 (common behind load
   * balancers) would otherwise expire before the connect that follows it. Default 30 s.
   */
  minTtlMs?: number;
  /** And at most this long: a day-long TTL must not name an address that has changed hands. Default 1 h. */
  maxTtlMs?: number;
  now?: () => number;
}

interface Entry {
  name: string;
  expiresAt: number;
}

export class ResolvedNames {
  /** address -> entry; Map order is use order (oldest first). */
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly minTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly now: () => number;
  /** Entries pushed out by the size bound before their TTL ended. */
  evicted = 0;

  constructor(options: ResolvedNamesOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 8192);
    this.minTtlMs = options.minTtlMs ?? 30_000;
    this.maxTtlMs = Math.max(this.minTtlMs, options.maxTtlMs ?? 3_600_000);
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Remembers that `name` resolved to `address` with this TTL (seconds), for process `pid` and for the host. The latest answer wins. */
  learn(address: string, name: string, ttlSeconds: number, pid?: number): void {
    const ttlMs = Math.min(this.maxTtlMs, Math.max(this.minTtlMs, ttlSeconds * 1000));
    const entry = { name, expiresAt: this.now() + ttlMs };
    this.put(address, entry);
    if (pid !== undefined) this.put(`${pid}|${address}`, entry);
  }

  /** The name for `address`: the one process `pid` was answered, else the host's latest, if not expired. */
  nameOf(address: string, pid?: number): string | undefined {
    return (pid !== undefined ? this.live(`${pid}|${address}`) : undefined) ?? this.live(address);
  }

  private put(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
      this.evicted++;
    }
  }

  private live(key: string): string | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    // Used: move to the young end, so addresses a host keeps connecting to stay.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e.name;
  }

  /** Drops expired entries (called now and then, so names never looked up again do not linger). */
  sweep(): void {
    const now = this.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
  }
}
