import type { KV } from "@nats-io/kv";

const MEMBER = "member.";
/** More member keys than this are not read: a bucket flooded with keys must not make a round unbounded. */
const MAX_MEMBERS = 256;
/** Keys read from one listing, repeats included (a key rewritten while listed comes again). */
const MAX_LISTED = 4 * MAX_MEMBERS;
/** A heartbeat value is `{"at":<ms>}`; anything much longer is not ours. */
const MAX_VALUE_BYTES = 256;

/**
 * Replica membership in a lease bucket: each replica heartbeats `member.<id>` with its clock, and
 * counts the others whose heartbeat is younger than the TTL (by the timestamp they wrote, so an
 * entry a dead replica left behind is not counted even while the server still lists it).
 */
export class ReplicaMembers {
  private revision = 0;

  constructor(
    private readonly kv: KV,
    private readonly replicaId: string,
    private readonly ttlMs: number,
    private readonly now: () => number,
  ) {}

  async heartbeat(): Promise<void> {
    this.revision = await this.kv.put(MEMBER + this.replicaId, JSON.stringify({ at: this.now() }));
  }

  /**
   * Live replicas, this one included (whether or not its own heartbeat has landed yet). The
   * listing yields a key again when it is rewritten while being listed (seen: 3 replicas'
   * heartbeats counted as 4, so shares added up to less than every partition), so keys are
   * deduplicated, and a listing that runs on past `timeoutMs` is cut and the round fails.
   */
  async liveCount(timeoutMs: number): Promise<number> {
    const others = new Set<string>();
    const it = await this.kv.keys(`${MEMBER}>`);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      it.stop();
    }, timeoutMs);
    try {
      // Not ended at the first repeat: an entry due in the listing can be replaced (history 1) by a
      // newer one that comes after other keys' new writes, so a repeat does not mean all were seen.
      let read = 0;
      for await (const key of it) {
        if (key !== MEMBER + this.replicaId) others.add(key);
        if (others.size >= MAX_MEMBERS || ++read >= MAX_LISTED) break;
      }
    } finally {
      clearTimeout(timer);
    }
    if (timedOut) throw new Error(`member listing took over ${timeoutMs} ms`);
    const fresh = await Promise.all([...others].map((key) => this.isFresh(key)));
    return 1 + fresh.filter(Boolean).length;
  }

  private async isFresh(key: string): Promise<boolean> {
    const e = await this.kv.get(key).catch(() => null);
    if (!e || e.operation !== "PUT" || e.length > MAX_VALUE_BYTES) return false;
    try {
      const at = (JSON.parse(e.string()) as { at?: unknown }).at;
      return typeof at === "number" && Number.isFinite(at) && this.now() - at <= this.ttlMs;
    } catch {
      return false;
    }
  }

  /** Removes this replica's entry (if it is still the one it wrote last), so the others rebalance at once. */
  async leave(): Promise<void> {
    if (this.revision === 0) return;
    await this.kv.delete(MEMBER + this.replicaId, { previousSeq: this.revision });
  }
}
