import { randomBytes } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { BusLog } from "./nats-connection";
import { ReplicaMembers } from "./replica-members";

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

/** Counters since start, for /healthz and the scale bench: lost leases are lostToOther + expiredLocally. */
export interface PartitionLeaseStats {
  /** Leases created (claimed) by this replica. */
  acquired: number;
  /** Leases given back on purpose (shed to another replica, stop, failed start), after their work stopped. */
  released: number;
  /** Leases found held by someone else, or gone from the server, at renewal. */
  lostToOther: number;
  /** Leases given up because no renewal succeeded within 60% of the TTL. */
  expiredLocally: number;
  /** Renewals whose reply was lost although the write landed: the new revision was adopted. */
  renewalsRecovered: number;
  /** onAcquired failures (the partition was released again). */
  startFailures: number;
}

type Phase = "starting" | "running" | "stopping";

interface Held {
  revision: number;
  /**
   * When the newest write of ours known to have landed was *sent* (our clock): the server's TTL
   * counts from after this, so it is a safe lower bound for the lease's expiry.
   */
  renewedAt: number;
  phase: Phase;
  /** Renewals sent and not answered yet. */
  inflight: number;
  /**
   * When the first renewal expecting the current `revision` was sent: a write of ours that
   * follows it (found by recover after its reply was lost) was sent no earlier than this.
   */
  firstSendAt?: number;
  /** Settles (never rejects) once onAcquired has: work is never stopped while it is still starting. */
  started: Promise<void>;
  startFailed?: boolean;
}

const PART = "part.";
/** Renewals of one partition in flight at once: a slow reply does not hold the next one back, a dead link does not pile them up. */
const MAX_INFLIGHT = 3;
/** Rebalancing rounds whose member counts the share is computed from (their minimum). */
const SHARE_ROUNDS = 3;
const WRONG_SEQUENCE = /wrong last sequence|key exists|10071/i;

/**
 * Partition ownership among replicas in a KV bucket with a TTL. Each replica heartbeats its
 * membership (replica-members.ts) and holds a fair share (ceil(P / members)) of `part.<p>` keys:
 * claimed with create (fails if someone holds it), renewed with update(revision) (fails if someone
 * else wrote it), released with a revision-checked delete. A lease's value is
 * `<replica id>/<token of this process>`.
 *
 * Two loops, so neither waits for the other: the renewal loop (every ttl/5) renews every held
 * lease at once and the membership, and never awaits a reply or any work; the rebalancing loop
 * lists members and claims or sheds. Starting and stopping work (onAcquired/onLost) runs beside
 * both: in the bench, a slow shed or start held renewals back until leases expired and churned.
 *
 * Safety: work on a partition is stopped before its lease can expire on the server. If no renewal
 * succeeded for `stopAfter` (60% of the TTL, counted from when the last successful renewal was
 * *sent*) the partition is given up locally even if NATS is unreachable. A partition being shed
 * or stopped stays renewed until its onLost has resolved, and is only then released.
 */
export class PartitionLeases {
  /** Leases on the server this replica renews: running, starting, and stopping on purpose (shed). */
  private readonly held = new Map<number, Held>();
  /** Partitions whose work is stopping (shed, lost or expired): not claimed again until it has. */
  private readonly stopping = new Map<number, Promise<void>>();
  private readonly members: ReplicaMembers;
  /** Live member counts of the last rebalancing rounds, newest last. */
  private readonly recentCounts: number[] = [];
  private readonly counts: PartitionLeaseStats = { acquired: 0, released: 0, lostToOther: 0, expiredLocally: 0, renewalsRecovered: 0, startFailures: 0 };
  private renewTimer?: NodeJS.Timeout;
  private rebalanceTimer?: NodeJS.Timeout;
  private rebalancing?: Promise<void>;
  private heartbeating?: Promise<void>;
  private started = false;
  /** No more claims or sheds (stop() began). */
  private closing = false;
  /** No more renewals either (stop() finished, or a test simulating a crash sets it). */
  private stopped = false;
  private stopDone?: Promise<void>;
  private readonly renewEveryMs: number;
  private readonly stopAfterMs: number;
  private readonly now: () => number;
  /**
   * What this replica writes into its lease keys: its id and a token of this process, so a value
   * that is ours can only have been written by this very process (see recover), not by an earlier
   * run under the same VIGIL_REPLICA_ID or a second process misconfigured with it.
   */
  private readonly holder: string;
  /** Live replicas seen at the last rebalancing round (including this one). */
  liveReplicas = 0;

  constructor(private readonly o: PartitionLeaseOptions) {
    if (!Number.isInteger(o.partitions) || o.partitions < 1) throw new RangeError("partitions must be a positive integer");
    this.renewEveryMs = o.renewEveryMs ?? Math.max(50, Math.floor(o.ttlMs / 5));
    if (this.renewEveryMs * 2 >= o.ttlMs) throw new RangeError("renewEveryMs must be well under the lease TTL");
    this.stopAfterMs = Math.floor(o.ttlMs * 0.6);
    this.now = o.now ?? Date.now;
    this.holder = `${o.replicaId}/${randomBytes(4).toString("hex")}`;
    this.members = new ReplicaMembers(o.kv, o.replicaId, o.ttlMs, this.now);
  }

  /** Partitions this replica holds and works on (or is starting), ascending; not those it is giving up. */
  owned(): number[] {
    return [...this.held]
      .filter(([, h]) => h.phase !== "stopping")
      .map(([p]) => p)
      .sort((a, b) => a - b);
  }

  get stats(): PartitionLeaseStats {
    return { ...this.counts };
  }

  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    const renewLoop = () => {
      this.renewRound();
      // The round runs from setImmediate, after the event loop's poll phase: when the loop was
      // blocked (a long synchronous start-up step), replies that arrived meanwhile are taken in
      // before the deadline is judged, instead of expiring leases renewed in time (seen: 4 of 4).
      if (!this.stopped) this.renewTimer = setTimeout(() => setImmediate(renewLoop), this.renewEveryMs);
    };
    const rebalanceLoop = () => {
      this.rebalancing = this.rebalance()
        .catch((err: unknown) => this.o.log("warn", "partition rebalancing round failed", { error: String(err) }))
        .finally(() => {
          if (!this.stopped && !this.closing) this.rebalanceTimer = setTimeout(rebalanceLoop, this.renewEveryMs);
        });
    };
    renewLoop();
    rebalanceLoop();
  }

  // ---- renewal loop: sends, never waits ----

  /** Gives up what could expire on the server soon, then renews every other held lease and the membership, all at once. */
  private renewRound(): void {
    if (this.stopped) return;
    const now = this.now();
    for (const [p, h] of [...this.held]) {
      if (now - h.renewedAt >= this.stopAfterMs) {
        this.counts.expiredLocally++;
        this.o.log("warn", "partition lease not renewed in time; stopping its work", { partition: p, sinceRenewMs: now - h.renewedAt });
        this.giveUp(p, h, true);
      } else if (h.inflight < MAX_INFLIGHT) {
        void this.renew(p, h);
      }
    }
    this.heartbeating ??= this.members
      .heartbeat()
      .catch((err: unknown) => this.o.log("warn", "replica heartbeat failed", { error: String(err) }))
      .finally(() => (this.heartbeating = undefined));
  }

  private async renew(p: number, h: Held): Promise<void> {
    h.inflight++;
    const sentAt = this.now();
    h.firstSendAt ??= sentAt;
    try {
      // A reply later than the local deadline is worth nothing: time out there, the next round retries.
      const revision = await this.o.kv.update(PART + p, this.holder, h.revision, this.stopAfterMs);
      if (this.held.get(p) !== h) return;
      // Replies can come back out of order (several in flight): keep the newest revision and send time.
      if (revision > h.revision) {
        h.revision = revision;
        h.firstSendAt = undefined;
      }
      h.renewedAt = Math.max(h.renewedAt, sentAt);
    } catch (err) {
      // Only a wrong-revision answer says anything for sure; NATS slow or away is judged by the local deadline.
      if (WRONG_SEQUENCE.test(String(err))) await this.recover(p, h);
    } finally {
      h.inflight--;
    }
  }

  /**
   * The key's revision moved. If it still holds our value, the mover was us: an earlier renewal whose
   * reply was lost (timed out) after the write landed. Nobody else writes our value, and the key
   * still has it, so it has not expired: the lease is still ours, adopt its revision. Anything else (another id, deleted, expired) is lost.
   */
  private async recover(p: number, h: Held): Promise<void> {
    let e;
    try {
      e = await this.o.kv.get(PART + p);
    } catch {
      return; // cannot tell: the local deadline decides
    }
    if (this.held.get(p) !== h) return;
    if (e && e.operation === "PUT" && e.string() === this.holder) {
      if (e.revision > h.revision) {
        // Our writes are revision-checked, so this one expected h.revision: it was sent at or after firstSendAt.
        h.renewedAt = Math.max(h.renewedAt, h.firstSendAt ?? h.renewedAt);
        h.revision = e.revision;
        h.firstSendAt = undefined;
        this.counts.renewalsRecovered++;
        this.o.log("info", "partition lease renewal reply was lost; adopted the revision it wrote", { partition: p, revision: e.revision });
        // Renewed again at once with it: the last confirmed renewal may be most of a deadline ago.
        if (h.inflight < MAX_INFLIGHT) void this.renew(p, h);
      }
      return;
    }
    this.counts.lostToOther++;
    this.o.log("warn", "partition lease lost to another replica", { partition: p, holder: e?.operation === "PUT" ? e.string().slice(0, 64) : null });
    this.giveUp(p, h, false);
  }

  // ---- stopping work ----

  /**
   * A lease that is gone or about to be: renewals stop, its work is told to stop (after its start
   * has settled), and it is not claimed again until that finished. `release`: the key may still be
   * ours on the server, so free it (revision-checked) once the work stopped.
   */
  private giveUp(p: number, h: Held, release: boolean): void {
    if (this.held.get(p) !== h) return;
    this.held.delete(p);
    if (h.phase === "stopping") return; // its stop is under way (a shed) and tracked in `stopping`
    h.phase = "stopping";
    this.track(
      p,
      this.stopWork(p, h).then(() => (release ? this.deleteKey(p, h.revision) : undefined)),
    );
  }

  /**
   * Gives a partition up on purpose (shed, failed start, stop()): it stays held and renewed until
   * its work has stopped, so nobody else can take it meanwhile, then is released.
   */
  private shed(p: number, h: Held): void {
    if (h.phase === "stopping") return;
    h.phase = "stopping";
    this.track(
      p,
      this.stopWork(p, h).then(async () => {
        // Not held any more if it expired locally or was lost while stopping (counted there); the
        // revision-checked delete below then frees it only if it is still ours.
        if (this.held.get(p) === h) {
          this.held.delete(p);
          this.counts.released++;
        }
        await this.deleteKey(p, h.revision);
      }),
    );
  }

  private stopWork(p: number, h: Held): Promise<void> {
    return h.started.then(() => this.o.onLost(p)).catch((err: unknown) => this.o.log("error", "stopping work on a partition failed", { partition: p, error: String(err) }));
  }

  private track(p: number, done: Promise<void>): void {
    const tracked: Promise<void> = done.finally(() => {
      if (this.stopping.get(p) === tracked) this.stopping.delete(p);
    });
    this.stopping.set(p, tracked);
  }

  private async deleteKey(p: number, revision: number): Promise<void> {
    try {
      await this.o.kv.delete(PART + p, { previousSeq: revision });
    } catch {
      // taken over, expired, or our last write's reply was lost: the TTL frees it
    }
  }

  // ---- rebalancing loop ----

  private async rebalance(): Promise<void> {
    if (this.stopped || this.closing) return;
    const live = await this.members.liveCount(this.o.ttlMs);
    this.liveReplicas = live;
    this.recentCounts.push(live);
    if (this.recentCounts.length > SHARE_ROUNDS) this.recentCounts.shift();
    // The fewest members of the last rounds: a replica that just appeared must be seen for a few
    // rounds before anyone sheds for it (a flapping one never is); one that left counts at once.
    const share = Math.ceil(this.o.partitions / Math.min(...this.recentCounts));
    const mine = this.owned();
    // Above the share: shed the highest running ones (one still starting is shed in a later round).
    let excess = mine.length - share;
    for (let i = mine.length - 1; i >= 0 && excess > 0; i--) {
      const h = this.held.get(mine[i])!;
      if (h.phase !== "running") continue;
      this.shed(mine[i], h);
      excess--;
    }
    if (mine.length < share) await this.claim(share - mine.length);
  }

  /** Creates up to `n` free leases, a batch of creates at a time, and starts their work beside the loops. */
  private async claim(n: number): Promise<void> {
    // Start at a replica-specific offset so replicas starting together do not race for the same keys.
    const first = hashString(this.o.replicaId) % this.o.partitions;
    const candidates: number[] = [];
    for (let i = 0; i < this.o.partitions; i++) {
      const p = (first + i) % this.o.partitions;
      if (!this.held.has(p) && !this.stopping.has(p)) candidates.push(p);
    }
    let need = n;
    for (let i = 0; i < candidates.length && need > 0 && !this.closing && !this.stopped;) {
      const batch = candidates.slice(i, i + need);
      i += batch.length;
      const got = await Promise.all(batch.map((p) => this.tryClaim(p)));
      need -= got.filter(Boolean).length;
    }
  }

  private async tryClaim(p: number): Promise<boolean> {
    const sentAt = this.now();
    let revision: number;
    try {
      revision = await this.o.kv.create(PART + p, this.holder);
    } catch {
      return false; // held by someone else (or NATS away)
    }
    this.counts.acquired++;
    // Stopping meanwhile, or the reply took so long the lease is already near its local deadline: give it straight back.
    if (this.closing || this.stopped || this.held.has(p) || this.now() - sentAt >= this.stopAfterMs) {
      this.counts.released++;
      await this.deleteKey(p, revision);
      return false;
    }
    const h: Held = { revision, renewedAt: sentAt, phase: "starting", inflight: 0, started: Promise.resolve() };
    h.started = Promise.resolve()
      .then(() => this.o.onAcquired(p))
      .then(
        () => {
          if (h.phase === "starting") h.phase = "running";
        },
        (err: unknown) => {
          h.startFailed = true;
          this.counts.startFailures++;
          this.o.log("error", "starting work on a partition failed; releasing it", { partition: p, error: String(err) });
        },
      );
    this.held.set(p, h);
    // A failed start: its partial work is stopped and the lease released (renewed until then).
    void h.started.then(() => {
      if (h.startFailed && this.held.get(p) === h) this.shed(p, h);
    });
    return true;
  }

  // ---- stop ----

  /** Stops all work and releases every lease and the membership, so the others rebalance at once. Idempotent. */
  stop(): Promise<void> {
    this.stopDone ??= this.close();
    return this.stopDone;
  }

  private async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.rebalanceTimer);
    await this.rebalancing?.catch(() => undefined);
    // Every lease is shed: renewed (the renewal loop runs on) until its work stopped, then released.
    for (const [p, h] of [...this.held]) this.shed(p, h);
    while (this.stopping.size > 0) await Promise.all([...this.stopping.values()]);
    this.stopped = true;
    clearTimeout(this.renewTimer);
    await this.heartbeating;
    try {
      await this.members.leave();
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
