import { createHash } from "node:crypto";
import { DeliverPolicy, DiscardPolicy, jetstream, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { BusLog } from "../bus/nats-connection";
import { partitionOf } from "../bus/partition";
import { PartitionLeases } from "../bus/partition-leases";
import { ensureKv, ensureStream, manager, type BusNames } from "../bus/streams";
import type { CorrelationOwner, CorrelationRouter, CorrelationRouterStats } from "./correlation-router";
import type { OwnedInput, RoutedInput } from "./engine-protocol";
import { MAX_BATCH_INPUTS, MAX_CLOCKS, parseCorrelationMessage, RoutedInputError } from "./routed-input-check";

export interface JetStreamRouterOptions {
  nc: NatsConnection;
  names: BusNames;
  partitions: number;
  /** This replica's unique id (a subject token): names its partition leases. */
  replicaId: string;
  /**
   * How far back a partition's new owner replays its inputs to rebuild the windows: at least the
   * longest correlation timespan (a chain: the sum of its steps) plus the reorder tolerance.
   * Correlations longer than this lose the inputs before it on failover. Default 2 h.
   */
  replayMs?: number;
  /** Partition lease TTL (ms): how long a dead owner's partitions wait for a new owner. Default 10 s. */
  leaseTtlMs?: number;
  /** Inputs handed to the owner at once. Default 256. */
  batch?: number;
  log: BusLog;
  now?: () => number;
}

/** Publishes awaited at once (each waits for its PubAck). */
const PUBLISH_WINDOW = 256;
/**
 * A batch message is closed before it passes this many bytes of inputs (the reader takes up to
 * MAX_ROUTED_BYTES; one input larger than this still goes, alone).
 */
const BATCH_BYTES = 128 * 1024;
/**
 * How long inputs in hand wait for more before the owner gets them, when the consumer cannot tell
 * that nothing more is in hand (its pending count over-reports after internal status entries).
 */
const FLUSH_MS = 5;
/** Hosts remembered with the partitions they fed (for clock notices); past it the least recent are forgotten. */
const MAX_FEEDERS = 100_000;
/** Waits before each retry of a publish that failed (ms). */
const PUBLISH_RETRIES = [200, 1_000, 3_000];

interface Owned {
  messages: ConsumerMessages;
  done: Promise<void>;
}

/**
 * Distributed mode (issue #12): routed correlation inputs go to the JetStream stream
 * `<prefix>.corr.<partition>` (message id agent:seq:rule:target, so a resent batch is dropped by
 * the stream), and each partition has one owner at a time, by lease (bus/partition-leases.ts).
 * Taking a partition, the owner reads it with an ordered consumer from `replayMs` ago: the windows
 * the previous owner held are rebuilt from the inputs themselves, and the firings it had already
 * made come out again with the same firing keys, which the alert service recognises (no second
 * alert). Losing a partition stops its consumer and drops its windows before the lease can pass on.
 *
 * Everything read back is checked (routed-input-check.ts); a message that fails is counted and
 * skipped: an ordered consumer never redelivers, so nothing is retried forever.
 */
export class JetStreamCorrelationRouter implements CorrelationRouter {
  readonly partitions: number;
  private readonly js: JetStreamClient;
  private leases?: PartitionLeases;
  private owner?: CorrelationOwner;
  private readonly owned = new Map<number, Owned>();
  private readonly counts = { routed: 0, received: 0, rejected: 0, published: 0 };
  /** Hosts whose inputs this replica routed, and to which partitions: their clocks go there too. */
  private readonly feeders = new Map<string, Set<number>>();
  private clockSeq = 0;
  private readonly now: () => number;

  constructor(private readonly o: JetStreamRouterOptions) {
    this.partitions = o.partitions;
    this.js = jetstream(o.nc);
    this.now = o.now ?? Date.now;
  }

  get stats(): CorrelationRouterStats {
    return { ...this.counts, owned: this.owned.size, ...(this.leases ? { leases: this.leases.stats } : {}) };
  }

  /** Partitions this replica owns now. */
  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  async start(owner: CorrelationOwner): Promise<void> {
    this.owner = owner;
    const { names } = this.o;
    const replayMs = this.o.replayMs ?? 2 * 3_600_000;
    await ensureStream(await manager(this.o.nc), {
      name: names.corrStream,
      subjects: [names.corrWildcard],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      // Kept a little past the replay window; duplicates within 2 min are dropped by message id.
      max_age: (replayMs + 10 * 60_000) * 1_000_000,
      duplicate_window: 120_000 * 1_000_000,
      num_replicas: 1,
    });
    const ttlMs = this.o.leaseTtlMs ?? 10_000;
    const kv = await ensureKv(this.o.nc, names.leaseBucket("corr"), ttlMs);
    this.leases = new PartitionLeases({
      kv,
      replicaId: this.o.replicaId,
      partitions: this.partitions,
      ttlMs,
      onAcquired: (p) => this.own(p, replayMs),
      onLost: (p) => this.disown(p),
      log: this.o.log,
      now: this.now,
    });
    this.leases.start();
  }

  /**
   * Inputs go as batches, one or a few messages per partition for each call (a detection chunk):
   * a JetStream publish and its PubAck cost the same for one input as for a hundred, and this runs
   * on the thread that serves ingest. A batch's message id is a digest of its inputs' ids, so a
   * publish retried after a lost PubAck is dropped by the stream as the single inputs were.
   */
  async route(inputs: RoutedInput[]): Promise<void> {
    const byPartition = new Map<number, RoutedInput[]>();
    for (const input of inputs) {
      const p = partitionOf(input.key, this.partitions);
      this.fed(input.agentId, p);
      let list = byPartition.get(p);
      if (!list) byPartition.set(p, (list = []));
      list.push(input);
    }
    const batches: Array<{ p: number; data: string; msgID: string; count: number }> = [];
    for (const [p, list] of byPartition) {
      let parts: string[] = [];
      let ids = createHash("sha256");
      let bytes = 0;
      const close = () => {
        if (parts.length === 0) return;
        batches.push({ p, data: `{"inputs":[${parts.join(",")}]}`, msgID: `b:${ids.digest("base64url")}`, count: parts.length });
        parts = [];
        ids = createHash("sha256");
        bytes = 0;
      };
      for (const input of list) {
        const json = JSON.stringify(input);
        if (parts.length >= MAX_BATCH_INPUTS || (parts.length > 0 && bytes + json.length > BATCH_BYTES)) close();
        parts.push(json);
        bytes += json.length + 1;
        ids.update(`${input.agentId}:${input.seq}:${input.rule}:${input.target}\n`);
      }
      close();
    }
    for (let i = 0; i < batches.length; i += PUBLISH_WINDOW) {
      const window = batches.slice(i, i + PUBLISH_WINDOW);
      await Promise.all(window.map((b) => this.send(b.p, b.data, b.msgID)));
      for (const b of window) this.counts.routed += b.count;
      this.counts.published += window.length;
    }
  }

  /**
   * Hosts' newest event times, to the partitions they fed from this replica (in stream order after
   * their inputs), so the groups they feed move on wherever they are owned; replayed with them.
   */
  async clocks(newest: ReadonlyMap<string, number>): Promise<void> {
    const byPartition = new Map<number, [string, number][]>();
    for (const [agentId, t] of newest) {
      for (const p of this.feeders.get(agentId) ?? []) {
        let list = byPartition.get(p);
        if (!list) byPartition.set(p, (list = []));
        list.push([agentId, t]);
      }
    }
    const sends: Promise<void>[] = [];
    for (const [p, list] of byPartition) {
      for (let i = 0; i < list.length; i += MAX_CLOCKS) {
        const msgID = `clock:${this.o.replicaId}:${this.now()}:${this.clockSeq++}`;
        sends.push(this.send(p, JSON.stringify({ clocks: list.slice(i, i + MAX_CLOCKS) }), msgID));
      }
    }
    await Promise.all(sends);
  }

  private fed(agentId: string, p: number): void {
    let set = this.feeders.get(agentId);
    if (set)
      this.feeders.delete(agentId); // re-insert: least recently fed first
    else set = new Set();
    set.add(p);
    this.feeders.set(agentId, set);
    if (this.feeders.size > MAX_FEEDERS) this.feeders.delete(this.feeders.keys().next().value!);
  }

  /**
   * One message, retried through a short NATS outage (a reconnect, a leader change): the message id
   * makes a retry whose first attempt was in fact stored a duplicate the stream drops.
   */
  private async send(p: number, data: string, msgID: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.js.publish(this.o.names.corrSubject(p), data, { msgID });
        return;
      } catch (err) {
        if (attempt >= PUBLISH_RETRIES.length) throw err;
        await new Promise((r) => setTimeout(r, PUBLISH_RETRIES[attempt]));
      }
    }
  }

  async rebuild(): Promise<void> {
    const replayMs = this.o.replayMs ?? 2 * 3_600_000;
    for (const p of this.ownedPartitions()) {
      const o = this.owned.get(p);
      if (!o) continue;
      this.owned.delete(p);
      await o.messages.close().catch(() => undefined);
      await o.done;
      // Still ours (a lease loss meanwhile would have gone through disown): read it again from the horizon.
      if (this.leases?.owned().includes(p)) await this.own(p, replayMs);
    }
  }

  async stop(): Promise<void> {
    await this.leases?.stop();
    for (const p of [...this.owned.keys()]) await this.disown(p);
    this.owner = undefined;
  }

  private async own(p: number, replayMs: number): Promise<void> {
    if (this.owned.has(p)) return;
    const consumer = await this.js.consumers.get(this.o.names.corrStream, {
      filter_subjects: this.o.names.corrSubject(p),
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(this.now() - replayMs).toISOString(),
    });
    const messages = await consumer.consume({ max_messages: this.o.batch ?? 256 });
    const done = this.pump(p, messages).catch((err: unknown) => this.o.log("error", "correlation partition consumer failed", { partition: p, error: String(err) }));
    this.owned.set(p, { messages, done });
    this.o.log("info", "correlation partition taken; replaying its inputs", { partition: p, replayMs });
  }

  private async disown(p: number): Promise<void> {
    const o = this.owned.get(p);
    if (!o) return;
    this.owned.delete(p);
    await o.messages.close().catch(() => undefined);
    await o.done;
    await this.owner?.drop([p]);
  }

  /**
   * Reads one partition in order, handing the owner batches of checked inputs: what is in hand when
   * the stream pauses, or after FLUSH_MS at most. Every hand-over goes through one chain, so the
   * owner sees inputs and clocks in stream order whether the loop or the timer flushed them.
   */
  private async pump(p: number, messages: ConsumerMessages): Promise<void> {
    const max = this.o.batch ?? 256;
    let buf: OwnedInput[] = [];
    let handed: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const flush = (): Promise<void> => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const batch = buf;
      buf = [];
      // Ownership may have moved while we waited: never feed a partition that is no longer ours.
      if (batch.length) handed = handed.then(() => (this.owned.has(p) ? this.owner?.accept(batch) : undefined));
      return handed;
    };
    const take = (input: RoutedInput) => {
      if (partitionOf(input.key, this.partitions) !== p) throw new RoutedInputError("key belongs to another partition");
      buf.push({ ...input, partition: p });
      this.counts.received++;
    };
    try {
      for await (const m of messages) {
        if (!this.owned.has(p)) break;
        try {
          const msg = parseCorrelationMessage(m.data);
          if (msg.kind === "clocks") {
            // In order: the inputs before it first.
            await flush();
            if (this.owned.has(p)) await this.owner?.clocks(msg.clocks);
          } else if (msg.kind === "input") take(msg.input);
          else {
            for (const err of msg.rejected) this.rejected(p, err);
            for (const input of msg.inputs) {
              try {
                take(input);
              } catch (err) {
                this.rejected(p, err);
              }
            }
          }
        } catch (err) {
          this.rejected(p, err);
        }
        if (buf.length >= max || messages.getPending() === 0) await flush();
        // A failed hand-over by the timer ends the partition's consumer, as one by the loop does.
        else if (buf.length && !timer)
          timer = setTimeout(() => void flush().catch((err: unknown) => this.o.log("error", "correlation inputs not handed over", { partition: p, error: String(err) })), FLUSH_MS);
        await handed;
      }
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private rejected(p: number, err: unknown): void {
    this.counts.rejected++;
    if (this.counts.rejected <= 10 || this.counts.rejected % 1000 === 0) this.o.log("warn", "correlation input rejected", { partition: p, error: String(err), rejected: this.counts.rejected });
  }
}
