import type { Event } from "@vigil/proto";
import type { AgentCursor, EventStore } from "../database/repositories/event-store";
import { toEventRow, type EventRow } from "../database/repositories/event-row";

export interface StoredBatch {
  agentId: string;
  events: Event[];
  rows: EventRow[];
  /** Parallel to events: false where the (agent, seq) was already stored (a replay). */
  fresh: boolean[];
}

export type StoredListener = (batch: StoredBatch) => void;

/** Awaited after a batch is stored and before its ack: how downstream consumers push back on agents. */
export type IngestGate = () => Promise<void>;

interface Pending {
  agentId: string;
  events: Event[];
  rows: EventRow[];
  cursor: AgentCursor;
  prevAcked: number;
  resolve: (fresh: boolean[]) => void;
  reject: (err: unknown) => void;
}

export interface IngestStats {
  batches: number;
  events: number;
  duplicates: number;
  transactions: number;
  pendingBatches: number;
  pendingEvents: number;
  failures: number;
  /** Batches refused before storage (nothing stored, nothing acked). */
  refused: number;
}

export interface RefusedBatch {
  agentId: string;
  /** seq_window (a seq beyond what the agent can have produced) or contract (a malformed batch). */
  reason: "seq_window" | "contract";
  events: number;
}

/**
 * Group commit: batches from all agent streams queue here and are written
 * together in one transaction, so 50 agents cost one commit, not 50. The queue
 * is bounded by the number of streams (each stream waits for its own batch
 * before reading the next), and by maxPendingEvents as a second guard.
 */
export class IngestWriter {
  private queue: Pending[] = [];
  private writing = false;
  private listeners: StoredListener[] = [];
  private refusedListeners: Array<(r: RefusedBatch) => void> = [];
  private gates: IngestGate[] = [];
  readonly stats: IngestStats = { batches: 0, events: 0, duplicates: 0, transactions: 0, pendingBatches: 0, pendingEvents: 0, failures: 0, refused: 0 };

  constructor(
    private readonly store: EventStore,
    private readonly opts: { maxRowsPerTransaction: number; maxPendingEvents: number } = { maxRowsPerTransaction: 10_000, maxPendingEvents: 200_000 },
  ) {}

  onStored(listener: StoredListener): void {
    this.listeners.push(listener);
  }

  /** A batch the session refused before storage (seq beyond the window, broken contract): counted and told to listeners. */
  refused(r: RefusedBatch): void {
    this.stats.refused++;
    for (const l of this.refusedListeners) {
      try {
        l(r);
      } catch {
        // counting must not break the session that refused
      }
    }
  }

  onRefused(listener: (r: RefusedBatch) => void): void {
    this.refusedListeners.push(listener);
  }

  /**
   * A consumer that cannot keep up (detection) delays acks until it has room; the events are
   * already committed, so this only slows the stream, it never loses anything.
   */
  addGate(gate: IngestGate): void {
    this.gates.push(gate);
  }

  /** True when the queue is full; the caller must wait before reading more from its stream. */
  get saturated(): boolean {
    return this.stats.pendingEvents >= this.opts.maxPendingEvents;
  }

  /**
   * `prevAcked` is the agent's contiguous ack before this batch: the agent sends in order and
   * replays from its ack, so exactly the events above it are new. Stores that cannot report
   * per-row inserts cheaply (PostgreSQL without RETURNING) use it to tell replays apart.
   */
  async submit(agentId: string, events: Event[], cursor: AgentCursor, prevAcked = 0, clock: { receivedAt?: number; reportedTimes?: ReadonlyArray<number | undefined> } = {}): Promise<boolean[]> {
    const receivedAt = clock.receivedAt ?? Date.now();
    const rows = events.map((e, i) => toEventRow(agentId, e, receivedAt, clock.reportedTimes?.[i]));
    const fresh = await new Promise<boolean[]>((resolve, reject) => {
      this.queue.push({ agentId, events, rows, cursor, prevAcked, resolve, reject });
      this.stats.pendingBatches++;
      this.stats.pendingEvents += events.length;
      if (!this.writing) void this.drain();
    });
    for (const gate of this.gates) await gate();
    return fresh;
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length) {
        // Let the other streams' batches arrive before committing, so they share the transaction.
        await new Promise((r) => setImmediate(r));
        const group: Pending[] = [];
        let rows = 0;
        while (this.queue.length && (group.length === 0 || rows + this.queue[0].rows.length <= this.opts.maxRowsPerTransaction)) {
          const p = this.queue.shift()!;
          group.push(p);
          rows += p.rows.length;
        }
        await this.writeGroup(group);
      }
    } finally {
      this.writing = false;
    }
  }

  private async writeGroup(group: Pending[]): Promise<void> {
    const allRows = group.flatMap((p) => p.rows);
    // Only the last cursor of each agent matters; streams are sequential per agent.
    const cursors = new Map<string, AgentCursor>();
    for (const p of group) cursors.set(p.agentId, p.cursor);
    let fresh: boolean[];
    try {
      const seqAbove = group.flatMap((p) => p.rows.map((r) => r.seq > p.prevAcked));
      fresh = await this.store.insertBatch(allRows, [...cursors.values()], seqAbove);
    } catch (err) {
      this.stats.failures++;
      for (const p of group) {
        this.settle(p);
        p.reject(err);
      }
      return;
    }
    this.stats.transactions++;
    let offset = 0;
    for (const p of group) {
      const mine = fresh.slice(offset, offset + p.rows.length);
      offset += p.rows.length;
      this.settle(p);
      p.resolve(mine);
      this.publishStored({ agentId: p.agentId, events: p.events, rows: p.rows, fresh: mine });
    }
  }

  /**
   * A batch is committed: counted and handed to every listener (detection, stream, metrics). Called
   * by this writer, and in distributed mode by the storage consumer that wrote it to PostgreSQL.
   */
  publishStored(batch: StoredBatch): void {
    this.stats.batches++;
    const dup = batch.fresh.filter((f) => !f).length;
    this.stats.events += batch.fresh.length - dup;
    this.stats.duplicates += dup;
    for (const l of this.listeners) {
      try {
        l(batch);
      } catch {
        // A listener's failure must not undo or block storage; listeners count their own errors.
      }
    }
  }

  private settle(p: Pending): void {
    this.stats.pendingBatches--;
    this.stats.pendingEvents -= p.events.length;
  }
}
