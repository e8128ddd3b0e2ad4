import { AckPolicy, DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { BusNames } from "../bus/streams";
import type { AgentCursor } from "../database/repositories/event-store";
import { type EventCopyStore, OffsetFenced } from "../database/repositories/event-copy-store";
import { toEventRow, type EventRow } from "../database/repositories/event-row";
import { eventKey } from "../database/repositories/event-dedup";
import { decodeEnvelope, EnvelopeRejected, META_HEADER, type BatchEnvelope } from "./bus-envelope";
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
}

export interface StorageConsumerDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: BusNames;
  store: EventCopyStore;
  /** Where committed batches go next: IngestWriter.publishStored / passGates (detection, stream, metrics). */
  hub: { publishStored(b: StoredBatch): void; passGates(): Promise<void> };
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
  /** Ends the running consume() so a stop does not wait for the next message. */
  halt?: () => void;
  /** Resolves when stop() is called: a loop waiting for detection's gate leaves at once. */
  stopped: Promise<void>;
  signalStop: () => void;
  lag: { pending: number; ackPending: number; at: number };
  /** What the partition's loop is waiting for, and since when: health shows a loop that is stuck. */
  phase: StoragePhase;
  phaseSince: number;
}

/** setup: (re)creating the consumer; read: waiting for messages; write: COPY + commit; gates: waiting for detection to take more. */
export type StoragePhase = "setup" | "read" | "write" | "gates" | "retry";

class Restart extends Error {}

/** How long a gathered batch waits for one more message before it is written. */
const GATHER_MS = 5;

function sleep(ms: number): Promise<undefined> {
  return new Promise((r) => setTimeout(() => r(undefined), ms));
}

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
  readonly stats: StorageConsumerStats = { messages: 0, events: 0, duplicates: 0, redelivered: 0, poison: 0, fenced: 0, failures: 0, restarts: 0 };
  private readonly workers = new Map<number, Worker>();

  constructor(private readonly d: StorageConsumerDeps) {}

  /** Partition leases' onAcquired: start writing partition p. */
  async start(partition: number): Promise<void> {
    if (this.workers.has(partition)) return;
    let signalStop = () => {};
    const stopped = new Promise<void>((r) => (signalStop = r));
    const w: Worker = { partition, stopping: false, done: Promise.resolve(), lag: { pending: 0, ackPending: 0, at: 0 }, phase: "setup", phaseSince: Date.now(), stopped, signalStop };
    this.workers.set(partition, w);
    w.done = this.run(w);
  }

  /** Partition leases' onLost: resolves once nothing more will be written for p by this replica. */
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

  private async run(w: Worker): Promise<void> {
    while (!w.stopping) {
      try {
        await this.consumeFromOffset(w);
      } catch (err) {
        if (w.stopping) break;
        if (err instanceof OffsetFenced) {
          // Someone committed past the offset this loop started from: a replica that had the lease
          // before us finished its last write late. Nothing of ours was committed; start again from
          // the offset as it is now (if we lost the lease instead, the lease loop stops us).
          this.stats.fenced++;
          this.d.log("warn", "partition offset moved by another writer; restarting from the committed offset", { partition: w.partition, error: err.message });
        } else if (err instanceof Restart) {
          this.stats.restarts++;
          this.d.log("info", "storage consumer restarting from the committed offset", { partition: w.partition, reason: err.message });
        } else {
          this.stats.failures++;
          this.d.log("error", "storage round failed; restarting the partition from its committed offset", { partition: w.partition, error: String(err) });
        }
        enter(w, "retry");
        await sleepUnlessStopping(w, this.d.retryMs ?? 1_000);
      }
    }
  }

  /** (Re)creates the partition's durable consumer at offset+1 and writes until stopped or something goes wrong. */
  private async consumeFromOffset(w: Worker): Promise<void> {
    const { names, jsm, js, store } = this.d;
    enter(w, "setup");
    const stream = names.eventsStream;
    const name = names.storageConsumer(w.partition);
    let offset = await store.readOffset(stream, w.partition);
    await jsm.consumers.delete(stream, name).catch(() => undefined);
    await jsm.consumers.add(stream, {
      durable_name: name,
      filter_subject: names.eventsPartitionFilter(w.partition),
      ack_policy: AckPolicy.Explicit,
      ...(offset > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: offset + 1 } : { deliver_policy: DeliverPolicy.All }),
      ack_wait: 120_000_000_000,
      max_ack_pending: 4 * (this.d.fetchMessages ?? 256),
      max_deliver: -1,
    });
    const consumer = await js.consumers.get(stream, name);
    const max = this.d.fetchMessages ?? 256;
    // consume() keeps pulls in flight; whatever has arrived when the buffer runs dry is written as one batch.
    const it = await consumer.consume({ max_messages: max });
    w.halt = () => void it.stop();
    if (w.stopping) it.stop();
    let delivered = 0;
    let msgs: JsMsg[] = [];
    // Whatever has arrived when no next message is ready within a moment is written as one batch.
    // (The iterator's getPending() cannot tell: it over-counts after status callbacks, and a quiet
    // partition would then hold its last messages unwritten.)
    const iter = it[Symbol.asyncIterator]();
    try {
      // A read still awaited when the loop ends may fail with the iterator: never an unhandled rejection.
      const read = () => {
        const next = iter.next();
        next.catch(() => undefined);
        return next;
      };
      let pending = read();
      for (;;) {
        enter(w, "read");
        const r = msgs.length ? await Promise.race([pending, sleep(GATHER_MS)]) : await pending;
        if (r === undefined) {
          // Nothing more ready: write what has gathered, the next message is still awaited.
          offset = await this.writeMessages(w, msgs, offset);
          msgs = [];
          await this.passGates(w);
          continue;
        }
        if (r.done || w.stopping) break;
        const m = r.value;
        // A jump means messages were delivered that this loop never received: start over from the offset.
        if (m.info.deliverySequence !== delivered + 1) throw new Restart("delivery sequence jumped");
        delivered = m.info.deliverySequence;
        msgs.push(m);
        pending = read();
        if (msgs.length < max) continue;
        offset = await this.writeMessages(w, msgs, offset);
        msgs = [];
        await this.passGates(w);
      }
    } finally {
      w.halt = undefined;
      it.stop();
    }
    // Messages received but not written are redelivered to whoever consumes next from the offset.
    if (!w.stopping) throw new Restart("consumer ended");
  }

  /**
   * Waits until detection has room for more (backpressure: the backlog stays in the stream), or
   * until the partition is stopped: what was written is committed and acked, so leaving here
   * loses nothing, and a lease must never wait on detection to be given up.
   */
  private async passGates(w: Worker): Promise<void> {
    enter(w, "gates");
    await Promise.race([this.d.hub.passGates(), w.stopped]);
  }

  private async writeMessages(w: Worker, msgs: JsMsg[], offset: number): Promise<number> {
    enter(w, "write");
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
        batches.push(this.decode(w.partition, m));
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

  /** The subject must be this partition's and name a valid agent, matching the one inside. */
  private decode(partition: number, m: JsMsg): BatchEnvelope {
    const head = `${this.d.names.prefix}.events.${partition}.`;
    if (!m.subject.startsWith(head)) throw new EnvelopeRejected("message on another partition's subject");
    return decodeEnvelope(m.data, m.headers?.get(META_HEADER), m.subject.slice(head.length));
  }
}

function enter(w: Worker, phase: StoragePhase): void {
  if (w.phase === phase) return;
  w.phase = phase;
  w.phaseSince = Date.now();
}

function sleepUnlessStopping(w: Worker, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = () => (w.stopping || Date.now() - started >= ms ? resolve() : setTimeout(tick, 50).unref());
    tick();
  });
}
