import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { readPartition, readUntilStopped, ReadRestart } from "../bus/partition-reader";
import type { BusNames } from "../bus/streams";
import type { AgentCursor } from "../database/repositories/event-store";
import { type EventCopyStore, OffsetFenced } from "../database/repositories/event-copy-store";
import { toEventRow, type EventRow } from "../database/repositories/event-row";
import { eventKey } from "../database/repositories/event-dedup";
import { decodePartitionMessage, EnvelopeRejected, type BatchEnvelope } from "./bus-envelope";
import type { StoredBatch } from "./ingest-writer";

export interface StorageConsumerStats {
  /** Messages written (their events stored or found already stored). */
  messages: number;
  /** Rows newly stored. */
  events: number;
  /** Rows already stored (an agent's replay through another replica). */
  duplicates: number;
  /** Redelivered messages at or below the committed offset: skipped, never stored or detected twice. */
  redelivered: number;
  /** Messages that failed the checks: counted, terminated, never retried. */
  poison: number;
  /** Commits refused because another writer moved the partition's offset (the partition then restarts from it). */
  fenced: number;
  /** Failed rounds (database or NATS away): the partition restarts from its committed offset. */
  failures: number;
  /** Consumers recreated from the committed offset without a failure (delivery gap, consume() ended). */
  restarts: number;
  /** Time spent decoding what was written (ms); the write's own time, by step, is EventCopyStore.timing. */
  decodeMs: number;
}

export interface StorageConsumerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: BusNames;
  store: EventCopyStore;
  /**
   * Where committed batches go next: IngestWriter.publishStored (the live stream, command results,
   * metrics). Detection reads the stream through a consumer of its own (DetectionConsumer), so
   * storage never waits for it.
   */
  hub: { publishStored(b: StoredBatch): void };
  log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  /** Messages per fetch (each up to one agent batch). */
  fetchMessages?: number;
  /** Pause after a failed round before the partition restarts (ms). */
  retryMs?: number;
}

interface Worker {
  partition: number;
  stopping: boolean;
  done: Promise<void>;
  /** Set by readPartition while reading: ends the running consume() so a stop does not wait for the next message. */
  halt?: () => void;
  lag: { pending: number; ackPending: number; at: number };
  /** What the partition's loop is waiting for, and since when: health shows a loop that is stuck. */
  phase: StoragePhase;
  phaseSince: number;
}

/** setup: (re)creating the consumer; read: waiting for messages; write: COPY + commit. */
export type StoragePhase = "setup" | "read" | "write" | "retry";

/**
 * Storage in distributed mode: one durable pull consumer per owned partition of the events
 * stream, writing batches of messages to PostgreSQL (EventCopyStore: COPY, idempotent on
 * (agent, seq), offset in the same transaction). The consumer is recreated from the committed
 * offset whenever a partition is taken and after any failure, so delivery is always in stream
 * order from the last commit: a redelivery is recognised by its stream sequence (<= offset) and a
 * message is never skipped. A delivery-sequence jump (messages delivered but not received) also
 * restarts the partition.
 */
export class StorageConsumer {
  readonly stats: StorageConsumerStats = {
    messages: 0,
    events: 0,
    duplicates: 0,
    redelivered: 0,
    poison: 0,
    fenced: 0,
    failures: 0,
    restarts: 0,
    decodeMs: 0,
  };
  private readonly workers = new Map<number, Worker>();

  constructor(private readonly d: StorageConsumerDeps) {}

  /** Partition leases' onAcquired: start writing partition p. */
  async start(partition: number): Promise<void> {
    if (this.workers.has(partition)) return;
    const w: Worker = { partition, stopping: false, done: Promise.resolve(), lag: { pending: 0, ackPending: 0, at: 0 }, phase: "setup", phaseSince: Date.now() };
    this.workers.set(partition, w);
    w.done = this.run(w);
  }

  /** Partition leases' onLost: resolves once nothing more will be written for p by this replica. */
  async stop(partition: number): Promise<void> {
    const w = this.workers.get(partition);
    if (!w) return;
    w.stopping = true;
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

  /** Each owned partition's loop: what it waits for and for how long (ms). */
  phases(): Array<{ partition: number; phase: StoragePhase; forMs: number }> {
    const now = Date.now();
    return [...this.workers.values()].map((w) => ({ partition: w.partition, phase: w.phase, forMs: now - w.phaseSince })).sort((a, b) => a.partition - b.partition);
  }

  /** Messages not yet written, per owned partition (JetStream consumer info: pending + unacked). */
  async lag(): Promise<Array<{ partition: number; pending: number; ackPending: number }>> {
    const out: Array<{ partition: number; pending: number; ackPending: number }> = [];
    for (const w of this.workers.values()) {
      try {
        const info = await this.d.jsm.consumers.info(this.d.names.eventsStream, this.d.names.storageConsumer(w.partition));
        w.lag = { pending: info.num_pending, ackPending: info.num_ack_pending, at: Date.now() };
      } catch {
        // consumer being recreated: the last known figure stands
      }
      out.push({ partition: w.partition, pending: w.lag.pending, ackPending: w.lag.ackPending });
    }
    return out.sort((a, b) => a.partition - b.partition);
  }

  private run(w: Worker): Promise<void> {
    return readUntilStopped(
      w,
      () => this.consumeFromOffset(w),
      (err) => {
        if (err instanceof OffsetFenced) {
          // Someone committed past the offset this loop started from: a replica that had the lease
          // before us finished its last write late. Nothing of ours was committed; start again from
          // the offset as it is now (if we lost the lease instead, the lease loop stops us).
          this.stats.fenced++;
          this.d.log("warn", "partition offset moved by another writer; restarting from the committed offset", { partition: w.partition, error: err.message });
        } else if (err instanceof ReadRestart) {
          this.stats.restarts++;
          this.d.log("info", "storage consumer restarting from the committed offset", { partition: w.partition, reason: err.message });
        } else {
          this.stats.failures++;
          this.d.log("error", "storage round failed; restarting the partition from its committed offset", { partition: w.partition, error: String(err) });
        }
        enter(w, "retry");
      },
      this.d.retryMs ?? 1_000,
    );
  }

  /** (Re)creates the partition's durable consumer at offset+1 and writes until stopped or something goes wrong. */
  private async consumeFromOffset(w: Worker): Promise<void> {
    const { names, store } = this.d;
    enter(w, "setup");
    const stream = names.eventsStream;
    let offset = await store.readOffset(stream, w.partition);
    const spec = { stream, durable: names.storageConsumer(w.partition), filter: names.eventsPartitionFilter(w.partition), after: offset, max: this.d.fetchMessages ?? 256 };
    await readPartition(
      this.d.js,
      this.d.jsm,
      spec,
      w,
      async (msgs) => {
        offset = await this.writeMessages(w, msgs, offset);
      },
      () => enter(w, "read"),
    );
  }

  private async writeMessages(w: Worker, msgs: JsMsg[], offset: number): Promise<number> {
    enter(w, "write");
    const decodeStart = performance.now();
    const batches: BatchEnvelope[] = [];
    const good: JsMsg[] = [];
    let next = offset;
    for (const m of msgs) {
      if (m.seq <= offset) {
        this.stats.redelivered++;
        m.ack();
        continue;
      }
      next = Math.max(next, m.seq);
      try {
        batches.push(decodePartitionMessage(this.d.names.prefix, w.partition, m));
        good.push(m);
      } catch (err) {
        if (!(err instanceof EnvelopeRejected)) throw err;
        this.stats.poison++;
        this.d.log("warn", "unreadable message on the events stream; counted and dropped", { partition: w.partition, streamSeq: m.seq, error: err.message });
        m.term();
      }
    }
    if (next === offset) return offset;
    const rowsPer: EventRow[][] = batches.map((b) => b.events.map((e, i) => toEventRow(b.agentId, e, b.receivedAt, b.reportedTimes[i])));
    const cursors = new Map<string, AgentCursor>();
    for (const b of batches) {
      const prev = cursors.get(b.agentId);
      if (!prev || b.cursor.ackedSeq >= prev.ackedSeq) cursors.set(b.agentId, b.cursor);
    }
    this.stats.decodeMs += performance.now() - decodeStart;
    const fresh = await this.d.store.write(rowsPer.flat(), [...cursors.values()], { stream: this.d.names.eventsStream, part: w.partition, expected: offset, next });
    for (const m of good) m.ack();
    this.stats.messages += good.length;
    batches.forEach((b, i) => {
      const rows = rowsPer[i];
      // Taken from the set: a seq that came twice in this write (a batch and its replay) is fresh once.
      const flags = rows.map((r) => fresh.delete(eventKey(r.agentId, r.seq)));
      const dup = flags.filter((f) => !f).length;
      this.stats.events += flags.length - dup;
      this.stats.duplicates += dup;
      this.d.hub.publishStored({ agentId: b.agentId, events: b.events, rows, fresh: flags });
    });
    return next;
  }
}

function enter(w: Worker, phase: StoragePhase): void {
  if (w.phase === phase) return;
  w.phase = phase;
  w.phaseSince = Date.now();
}
