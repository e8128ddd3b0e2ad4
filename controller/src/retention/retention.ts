import type { EventStore } from "../database/repositories/event-store";
import type { PartitionDrop } from "../database/repositories/event-partitions";

/** PostgreSQL's day partitions of the events table (EventPartitions). */
export interface PartitionMaintenance {
  /** Creates the days around `now` not yet there (none older than `cutoff`); returns how many. */
  ensure(now: number, cutoff: number): Promise<number>;
  /** Drops the days wholly older than `cutoff`. */
  dropOlderThan(cutoff: number): Promise<PartitionDrop>;
}

export interface RetentionStats {
  /** Rows deleted one by one: every expired row on SQLite, those in the DEFAULT partition on PostgreSQL. */
  rowsDeleted: number;
  /** Day partitions dropped whole (PostgreSQL), and the rows they held (PostgreSQL's estimate). */
  partitionsDropped: number;
  partitionRowsDropped: number;
  /** Day partitions created ahead of their events (PostgreSQL). */
  partitionsCreated: number;
  /** Rounds (or partition maintenance steps) that failed; the next round retries. */
  failures: number;
}

/**
 * Removes expired events. On PostgreSQL whole day partitions are dropped, and the days ahead
 * created, before the row-wise pass (which there only covers the DEFAULT partition). Rows are
 * deleted in small batches, yielding between them, so a large backlog of old rows never holds
 * the write lock long enough to stall ingest.
 */
export class RetentionJob {
  private timer?: NodeJS.Timeout;
  private running = false;
  readonly stats: RetentionStats = { rowsDeleted: 0, partitionsDropped: 0, partitionRowsDropped: 0, partitionsCreated: 0, failures: 0 };

  constructor(
    private readonly store: EventStore,
    private readonly retentionMs: number,
    private readonly opts: { intervalMs: number; batchSize: number; maxBatchesPerRun: number } = { intervalMs: 60_000, batchSize: 1000, maxBatchesPerRun: 100 },
    private readonly now: () => number = Date.now,
    private readonly pg: { partitions?: PartitionMaintenance; onError?: (step: "partitions" | "rows", err: unknown) => void } = {},
  ) {}

  /** Rows deleted one by one since start (see stats for partitions). */
  get deleted(): number {
    return this.stats.rowsDeleted;
  }

  /**
   * Before the first agent stream: the day partitions around now exist, so events land in them
   * and not in DEFAULT (after downtime, today's may be missing). Never throws; counted.
   */
  async prepare(): Promise<void> {
    const partitions = this.pg.partitions;
    if (!partitions) return;
    const now = this.now();
    this.stats.partitionsCreated += await partitions.ensure(now, now - this.retentionMs).catch((err: unknown) => this.failed("partitions", err, 0));
  }

  start(): void {
    // A database outage must not crash the controller (unhandled rejection); the next run retries.
    this.timer = setInterval(() => void this.runOnce().catch((err: unknown) => this.failed("rows", err, 0)), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One round; returns the rows deleted one by one. */
  async runOnce(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let total = 0;
    try {
      const cutoff = this.now() - this.retentionMs;
      await this.maintainPartitions(cutoff);
      for (let i = 0; i < this.opts.maxBatchesPerRun; i++) {
        const n = await this.store.deleteOlderThan(cutoff, this.opts.batchSize);
        total += n;
        if (n < this.opts.batchSize) break;
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
      this.stats.rowsDeleted += total;
    }
    return total;
  }

  /** A failed step (a lock not granted in time, a replica racing) is counted; the row-wise pass still runs. */
  private async maintainPartitions(cutoff: number): Promise<void> {
    const partitions = this.pg.partitions;
    if (!partitions) return;
    const dropped = await partitions.dropOlderThan(cutoff).catch((err: unknown) => this.failed("partitions", err, { partitions: 0, rows: 0, failed: 1 }));
    this.stats.partitionsDropped += dropped.partitions;
    this.stats.partitionRowsDropped += dropped.rows;
    this.stats.failures += dropped.failed;
    this.stats.partitionsCreated += await partitions.ensure(this.now(), cutoff).catch((err: unknown) => this.failed("partitions", err, 0));
  }

  private failed<T>(step: "partitions" | "rows", err: unknown, fallback: T): T {
    this.stats.failures++;
    this.pg.onError?.(step, err);
    return fallback;
  }
}
