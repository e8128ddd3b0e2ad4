import type { AgentRepository, SeenEntry } from "../database/repositories/agent-repository";
import { lostRace } from "../database/sql-batch";

/**
 * Last-seen times and reported statuses of a fleet, written in batches. Heartbeats of thousands
 * of agents written one UPDATE each held the database pool (measured by bench:scale: 20–30
 * connections of three replicas busy with single-row last-seen updates, and agent
 * registration then timing out waiting for a connection, so agents reconnected in a storm).
 * Notes are merged per agent (the newest time, the newest status) and flushed every `everyMs` as
 * one statement per few hundred agents. A failed flush puts its entries back under newer ones,
 * so nothing is lost while the database is away; memory stays one entry per agent.
 */
export class LastSeenWriter {
  private pending = new Map<string, SeenEntry>();
  /** The batch being written: still newer than what the database returns until it commits. */
  private inFlight = new Map<string, SeenEntry>();
  private timer?: NodeJS.Timeout;
  private flushing?: Promise<void>;
  private closed = false;
  readonly stats = { flushes: 0, rows: 0, failures: 0 };

  constructor(
    private readonly repo: Pick<AgentRepository, "recordSeenMany">,
    private readonly everyMs = 1_000,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  note(id: string, lastSeen: number, status?: Record<string, unknown>): void {
    this.merge({ id, lastSeen, status }, true);
    this.schedule();
  }

  /** Into pending: the later time; the status of `newer` when it has one, else the other's. */
  private merge(e: SeenEntry, newer: boolean): void {
    const prev = this.pending.get(e.id);
    const status = newer ? (e.status ?? prev?.status) : (prev?.status ?? e.status);
    this.pending.set(e.id, { id: e.id, lastSeen: Math.max(e.lastSeen, prev?.lastSeen ?? 0), status });
  }

  private schedule(): void {
    if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.everyMs);
      this.timer.unref();
    }
  }

  /** The status noted for an agent and not yet written (the newest it reported), if any. */
  pendingStatus(id: string): Record<string, unknown> | undefined {
    return this.pending.get(id)?.status ?? this.inFlight.get(id)?.status;
  }

  /** Writes what is pending now (waits for a flush already running first). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.inFlight = batch;
    this.flushing = this.write(batch).finally(() => {
      this.flushing = undefined;
      this.inFlight = new Map();
    });
    await this.flushing;
  }

  /** Flushes what is pending and stops the timer (shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  private async write(batch: Map<string, SeenEntry>): Promise<void> {
    const entries = [...batch.values()];
    for (let attempt = 1; ; attempt++) {
      try {
        await this.repo.recordSeenMany(entries);
        this.stats.flushes++;
        this.stats.rows += entries.length;
        return;
      } catch (err) {
        if (attempt < 4 && lostRace(err)) {
          await new Promise((r) => setTimeout(r, Math.random() * 20 * attempt));
          continue;
        }
        this.stats.failures++;
        this.onError(err);
        // Back under anything noted meanwhile (which is newer), for the next flush.
        for (const e of entries) this.merge(e, false);
        this.schedule();
        return;
      }
    }
  }
}
