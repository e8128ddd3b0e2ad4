import type { KV } from "@nats-io/kv";
import type { BusLog } from "./nats-connection";

export interface PartitionLeaseOptions {
  /** The bucket (its TTL is the lease TTL: see ensureKv). */
  kv: KV;
  /** This replica's unique id (a subject token). */
  replicaId: string;
  partitions: number;
  /** Must equal the bucket's TTL: a lease not renewed for this long is free for another replica. */
  ttlMs: number;
  /** How often leases are renewed and shares rebalanced; << ttlMs (default ttlMs / 5). */
  renewEveryMs?: number;
  /** Work on a partition starts here; an error releases the partition again. */
  onAcquired: (partition: number) => Promise<void> | void;
  /** Work on a partition must be stopped when this resolves: another replica may take it right after. */
  onLost: (partition: number) => Promise<void> | void;
  log: BusLog;
  now?: () => number;
}

interface Held {
  revision: number;
  /** When the last successful renewal was sent (our clock): the server's TTL counts from after this. */
  renewedAt: number;
}

const MEMBER = "member.";
const PART = "part.";

/**
 * Replica membership and partition ownership in a KV bucket with a TTL. Each replica heartbeats
 * `member.<id>`, counts the live members, and holds a fair share (ceil(P / members)) of
 * `part.<p>` keys: claimed with create (fails if someone holds it), renewed with
 * update(revision) (fails if someone else wrote it), released with a revision-checked delete.
 *
 * Safety: a replica stops the work on a partition before its lease can expire on the server.
 * Renewal is sent every ttl/5; if no renewal succeeded for `stopAfter` (60% of the TTL, counted
 * from when the last successful renewal was *sent*) the partition is given up locally even if
 * NATS is unreachable, so nobody else can hold it while this replica still works on it.
 */
export class PartitionLeases {
  private readonly held = new Map<number, Held>();
  private readonly pending = new Set<number>();
  /** Partitions lost or expired whose work is still stopping: not claimed again until it has. */
  private readonly stopping = new Map<number, Promise<void>>();
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private stopped = false;
  private memberRevision = 0;
  private readonly renewEveryMs: number;
  private readonly stopAfterMs: number;
  private readonly now: () => number;
  /** Live replicas seen at the last tick (including this one). */
  liveReplicas = 0;

  constructor(private readonly o: PartitionLeaseOptions) {
    if (!Number.isInteger(o.partitions) || o.partitions < 1) throw new RangeError("partitions must be a positive integer");
    this.renewEveryMs = o.renewEveryMs ?? Math.max(50, Math.floor(o.ttlMs / 5));
    if (this.renewEveryMs * 2 >= o.ttlMs) throw new RangeError("renewEveryMs must be well under the lease TTL");
    this.stopAfterMs = Math.floor(o.ttlMs * 0.6);
    this.now = o.now ?? Date.now;
  }

  /** Partitions this replica holds now, ascending. */
  owned(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  start(): void {
    if (this.timer) return;
    const loop = () => {
      this.ticking = this.tick()
        .catch((err: unknown) => this.o.log("warn", "partition lease round failed", { error: String(err) }))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.renewEveryMs);
        });
    };
    loop();
  }

  /** Runs one round now (tests and start-up use it to converge faster). */
  async tick(): Promise<void> {
    if (this.stopped) return;
    // Renewal and the local deadline come first and never depend on the rest succeeding.
    await this.renew();
    await this.expireUnrenewed();
    await this.heartbeat();
    const members = await this.liveMembers();
    this.liveReplicas = Math.max(1, members);
    const share = Math.ceil(this.o.partitions / this.liveReplicas);
    await this.shed(share);
    await this.claim(share);
  }

  private async heartbeat(): Promise<void> {
    const key = MEMBER + this.o.replicaId;
    const value = JSON.stringify({ at: this.now() });
    this.memberRevision = await this.o.kv.put(key, value);
  }

  private async liveMembers(): Promise<number> {
    let n = 0;
    const it = await this.o.kv.keys(`${MEMBER}>`);
    for await (const _k of it) n++;
    return n;
  }

  /**
   * All held leases renewed at once: one round trip for the lot, not one per partition in turn (on
   * a loaded machine the sequential renewals of six partitions took longer than the TTL allowed).
   */
  private async renew(): Promise<void> {
    await Promise.all(
      [...this.held].map(async ([p, h]) => {
        const sentAt = this.now();
        try {
          const revision = await this.o.kv.update(PART + p, this.o.replicaId, h.revision);
          if (this.held.get(p) === h) this.held.set(p, { revision, renewedAt: sentAt });
        } catch (err) {
          // Someone else wrote the key (we were too slow and it expired) or NATS is away; a wrong-revision
          // answer means it is gone for sure, anything else is judged by the local deadline below.
          if (/wrong last sequence|key exists|10071/i.test(String(err))) {
            this.o.log("warn", "partition lease lost to another replica", { partition: p });
            this.abandon(p);
          }
        }
      }),
    );
  }

  /** Gives up locally any partition whose lease could expire on the server soon: stop before anyone can take it. */
  private async expireUnrenewed(): Promise<void> {
    const now = this.now();
    for (const [p, h] of [...this.held]) {
      if (now - h.renewedAt >= this.stopAfterMs) {
        this.o.log("warn", "partition lease not renewed in time; stopping its work", { partition: p, sinceRenewMs: now - h.renewedAt });
        this.abandon(p);
      }
    }
  }

  /** Releases partitions above the fair share (highest first), so a replica that joins gets its part. */
  private async shed(share: number): Promise<void> {
    const mine = this.owned();
    while (mine.length > share) {
      const p = mine.pop()!;
      await this.drop(p, true);
    }
  }

  private async claim(share: number): Promise<void> {
    if (this.held.size >= share) return;
    // Start at a replica-specific offset so replicas starting together do not race for the same keys.
    const start = hashString(this.o.replicaId) % this.o.partitions;
    for (let i = 0; i < this.o.partitions && this.held.size < share && !this.stopped; i++) {
      const p = (start + i) % this.o.partitions;
      if (this.held.has(p) || this.pending.has(p) || this.stopping.has(p)) continue;
      const sentAt = this.now();
      let revision: number;
      try {
        revision = await this.o.kv.create(PART + p, this.o.replicaId);
      } catch {
        continue; // held by someone else
      }
      this.held.set(p, { revision, renewedAt: sentAt });
      this.pending.add(p);
      try {
        await this.o.onAcquired(p);
      } catch (err) {
        this.o.log("error", "starting work on a partition failed; releasing it", { partition: p, error: String(err) });
        await this.drop(p, true);
      } finally {
        this.pending.delete(p);
      }
    }
  }

  /**
   * A lease that is gone (or about to be): its work is told to stop now, and the loop goes on
   * renewing the others meanwhile. Waiting here for a partition's last write to finish held every
   * other renewal behind it, and under load those expired in turn (bench:scale: hundreds of leases
   * lost a minute). Safety does not rest on this wait: a write from a lost partition is fenced by
   * the stored offset; the partition is not claimed again until its work has stopped.
   */
  private abandon(p: number): void {
    if (!this.held.delete(p)) return;
    const stopped = Promise.resolve()
      .then(() => this.o.onLost(p))
      .catch((err: unknown) => this.o.log("error", "stopping work on a partition failed", { partition: p, error: String(err) }))
      .finally(() => this.stopping.delete(p));
    this.stopping.set(p, stopped);
  }

  /** Stops the work on p, then (when `release`) frees the key if it is still ours. */
  private async drop(p: number, release: boolean): Promise<void> {
    const h = this.held.get(p);
    if (!h) return;
    this.held.delete(p);
    try {
      await this.o.onLost(p);
    } catch (err) {
      this.o.log("error", "stopping work on a partition failed", { partition: p, error: String(err) });
    }
    if (release) {
      try {
        await this.o.kv.delete(PART + p, { previousSeq: h.revision });
      } catch {
        // already taken over or expired: nothing to release
      }
    }
  }

  /** Stops all work and releases every lease and the membership, so the others rebalance at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.ticking?.catch(() => undefined);
    for (const p of this.owned()) await this.drop(p, true);
    await Promise.all(this.stopping.values());
    try {
      await this.o.kv.delete(MEMBER + this.o.replicaId, { previousSeq: this.memberRevision });
    } catch {
      // NATS away: the membership expires with the TTL
    }
  }
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
