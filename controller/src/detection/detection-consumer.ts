import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { readPartition, readUntilStopped, ReadRestart } from "../bus/partition-reader";
import type { BusNames } from "../bus/streams";
import { OffsetFenced, type OffsetMove } from "../database/repositories/event-copy-store";
import { decodePartitionMessage, EnvelopeRejected } from "../ingest/bus-envelope";
import type { DetectBatch, FeedTag } from "./pipeline";

export interface DetectionConsumerStats {
  /** Messages handed to detection (whole batches; those with nothing fresh too). */
  messages: number;
  /** Events handed to detection. */
  events: number;
  /** Events at or below their agent's mark (a replay through another replica): not detected twice. */
  replayed: number;
  /** Messages at or below the committed offset (a redelivery): skipped. */
  redelivered: number;
  /** Messages that failed the checks: counted, passed over (storage terminates them). */
  poison: number;
  /** Offset commits. */
  commits: number;
  /** Commits refused because another replica moved the offset: the partition restarts from it. */
  fenced: number;
  /** Failed rounds (database or NATS away): the partition restarts from its committed offset. */
  failures: number;
  /** Reads restarted from the committed offset without a failure (delivery gap, consume() ended). */
  restarts: number;
}

/** Detection as this consumer sees it (DetectionPipeline). */
export interface DetectionFeedTarget {
  enqueue(batch: DetectBatch, tag: FeedTag): void;
  /** Resolves when detection's queue has room: until then this partition reads no more. */
  waitForRoom(): Promise<void>;
  dropPartition(partition: number): void;
}

/** Where the offsets are kept (EventCopyStore: stream_offsets, fenced moves). */
export interface DetectionOffsetStore {
  readOffset(stream: string, part: number): Promise<number>;
  moveOffset(move: OffsetMove): Promise<void>;
}

export interface DetectionConsumerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: BusNames;
  offsets: DetectionOffsetStore;
  target: DetectionFeedTarget;
  log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /** Messages per read (each up to one agent batch). */
  fetchMessages?: number;
  /** How often what detection has finished is committed (ms). */
  commitMs?: number;
  /** Pause after a failed round before the partition restarts (ms). */
  retryMs?: number;
}

/** A message handed to detection and not yet committed, in stream order. */
interface InFlight {
  seq: number;
  done: boolean;
}

interface Worker {
  partition: number;
  stopping: boolean;
  done: Promise<void>;
  /** Set by readPartition while reading. */
  halt?: () => void;
  /** Resolves when stop() is called: a read waiting for detection's room leaves at once. */
  stopped: Promise<void>;
  signalStop: () => void;
  /** The committed offset: every message up to it is detected. */
  committed: number;
  /** The last stream sequence handed to detection in this read (a redelivery at or below it is skipped). */
  handed: number;
  inflight: InFlight[];
  /**
   * Per agent, the highest seq handed to detection in this run of the partition. An agent's
   * batches reach one partition in stream order, so a seq at or below it is a replay (the same
   * events through another replica after a failover) and is not detected again.
   */
  marks: Map<string, number>;
  /** A commit failed (fenced, database away): the read stops and the partition restarts from its offset. */
  fault?: Error;
  committing: Promise<void>;
  timer?: NodeJS.Timeout;
}

/**
 * Detection in distributed mode reads the events stream through a consumer of its own, one per
 * owned partition, apart from storage: storage writes at its own pace and never waits for
 * detection, and a backlog of detection stays in the stream (this consumer reads on only while
 * detection has room), not in memory and not in the agents' spools.
 *
 * Its offset (stream_offsets, under `names.detectionOffsets`) moves past a message once detection
 * has matched, routed and recorded every event in it, so a replica killed mid-chunk leaves those
 * events to the partition's next reader: at least once, where alerts are merged by their dedup key
 * and correlation firings are recorded once per window. The first batch seen from an agent in a run
 * is fresh above its `prevAcked` (what the agent had acked before it), as in single-process mode.
 */
export class DetectionConsumer {
  readonly stats: DetectionConsumerStats = { messages: 0, events: 0, replayed: 0, redelivered: 0, poison: 0, commits: 0, fenced: 0, failures: 0, restarts: 0 };
  private readonly workers = new Map<number, Worker>();

  constructor(private readonly d: DetectionConsumerDeps) {}

  /** Partition leases' onAcquired: start detecting partition p. */
  async start(partition: number): Promise<void> {
    if (this.workers.has(partition)) return;
    let signalStop = () => {};
    const stopped = new Promise<void>((r) => (signalStop = r));
    const w: Worker = { partition, stopping: false, done: Promise.resolve(), stopped, signalStop, committed: 0, handed: 0, inflight: [], marks: new Map(), committing: Promise.resolve() };
    this.workers.set(partition, w);
    w.done = this.run(w);
  }

  /**
   * Partition leases' onLost: resolves once this replica reads no more of p. What detection has
   * finished is committed; what it still holds of p is dropped, for the next owner to detect.
   */
  async stop(partition: number): Promise<void> {
    const w = this.workers.get(partition);
    if (!w) return;
    w.stopping = true;
    w.signalStop();
    w.halt?.();
    await w.done;
    this.workers.delete(partition);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.workers.keys()].map((p) => this.stop(p)));
  }

  owned(): number[] {
    return [...this.workers.keys()].sort((a, b) => a - b);
  }

  /** Messages detection has not read yet, per owned partition (JetStream consumer info). */
  async lag(): Promise<Array<{ partition: number; pending: number; ackPending: number }>> {
    const out: Array<{ partition: number; pending: number; ackPending: number }> = [];
    for (const w of this.workers.values()) {
      try {
        const info = await this.d.jsm.consumers.info(this.d.names.eventsStream, this.d.names.detectionConsumer(w.partition));
        out.push({ partition: w.partition, pending: info.num_pending, ackPending: info.num_ack_pending });
      } catch {
        // being recreated: left out of this reading
      }
    }
    return out.sort((a, b) => a.partition - b.partition);
  }

  private async run(w: Worker): Promise<void> {
    w.timer = setInterval(() => void this.commit(w), this.d.commitMs ?? 250);
    w.timer.unref();
    try {
      await readUntilStopped(
        w,
        () => this.readFromOffset(w),
        (err) => {
          if (err instanceof OffsetFenced) {
            this.stats.fenced++;
            this.d.log("warn", "detection offset moved by another replica; restarting from it", { partition: w.partition, error: err.message });
          } else if (err instanceof ReadRestart) {
            this.stats.restarts++;
            this.d.log("info", "detection consumer restarting from its committed offset", { partition: w.partition, reason: err.message });
          } else {
            this.stats.failures++;
            this.d.log("error", "detection read failed; restarting the partition from its committed offset", { partition: w.partition, error: String(err) });
          }
        },
        this.d.retryMs ?? 1_000,
      );
    } finally {
      clearInterval(w.timer);
      // The last of what detection finished, unless a commit was refused (then it is the next owner's).
      if (w.fault === undefined) await this.commit(w);
      this.forget(w);
    }
  }

  /** Reads from the committed offset until stopped, a commit fails, or the read must restart. */
  private async readFromOffset(w: Worker): Promise<void> {
    const { names } = this.d;
    await w.committing;
    // Whatever detection still holds of an earlier read is read again from the offset.
    this.forget(w);
    w.committed = await this.d.offsets.readOffset(names.detectionOffsets, w.partition);
    const spec = { stream: names.eventsStream, durable: names.detectionConsumer(w.partition), filter: names.eventsPartitionFilter(w.partition), after: w.committed, max: this.d.fetchMessages ?? 256 };
    try {
      await readPartition(this.d.js, this.d.jsm, spec, w, async (msgs) => {
        this.handOn(w, msgs);
        // Backpressure: this partition reads on only when detection has room (the backlog stays in the stream).
        await Promise.race([this.d.target.waitForRoom(), w.stopped]);
        if (w.fault !== undefined) throw w.fault;
      });
    } catch (err) {
      // A failed commit halted the read: the read's own ending is not the cause.
      throw w.fault ?? err;
    }
    if (w.fault !== undefined) throw w.fault;
  }

  /**
   * Each message is acked as it is handed on: the server's ack state is not this consumer's
   * position (the offset is, and every read starts from it), and detection's queue bound, not the
   * server's, limits what is in flight.
   */
  private handOn(w: Worker, msgs: JsMsg[]): void {
    for (const m of msgs) {
      m.ack();
      if (m.seq <= Math.max(w.committed, w.handed)) {
        this.stats.redelivered++;
        continue;
      }
      w.handed = m.seq;
      const entry: InFlight = { seq: m.seq, done: false };
      w.inflight.push(entry);
      let batch: DetectBatch;
      try {
        const env = decodePartitionMessage(this.d.names.prefix, w.partition, m);
        let mark = w.marks.get(env.agentId) ?? env.prevAcked;
        const fresh = env.events.map((ev) => {
          if (ev.seq <= mark) return false;
          mark = ev.seq;
          return true;
        });
        w.marks.set(env.agentId, mark);
        batch = { agentId: env.agentId, events: env.events, fresh };
      } catch (err) {
        if (!(err instanceof EnvelopeRejected)) throw err;
        // Storage counts, logs and terminates it; detection counts it and passes over it.
        this.stats.poison++;
        entry.done = true;
        continue;
      }
      const n = batch.fresh.reduce((a, f) => a + (f ? 1 : 0), 0);
      this.stats.messages++;
      this.stats.events += n;
      this.stats.replayed += batch.events.length - n;
      this.d.target.enqueue(batch, { partition: w.partition, done: () => (entry.done = true) });
    }
  }

  /** Moves the offset past the messages detection has finished, in order. One commit at a time per partition. */
  private commit(w: Worker): Promise<void> {
    w.committing = w.committing.then(async () => {
      if (w.fault !== undefined) return;
      let n = 0;
      while (n < w.inflight.length && w.inflight[n].done) n++;
      if (n === 0) return;
      const next = w.inflight[n - 1].seq;
      try {
        await this.d.offsets.moveOffset({ stream: this.d.names.detectionOffsets, part: w.partition, expected: w.committed, next });
      } catch (err) {
        // The read stops at its next batch (or now, if it waits) and the partition restarts from the offset as it is.
        w.fault = err instanceof Error ? err : new Error(String(err));
        w.halt?.();
        return;
      }
      this.stats.commits++;
      w.committed = next;
      w.inflight.splice(0, n);
    });
    return w.committing;
  }

  /** Drops what detection holds of the partition and this run's state; the next read starts from the committed offset. */
  private forget(w: Worker): void {
    this.d.target.dropPartition(w.partition);
    w.inflight = [];
    w.handed = 0;
    w.marks.clear();
    w.fault = undefined;
  }
}
