import type { EventStore } from "../database/repositories/event-store";

/**
 * Deletes expired events in small batches, yielding between them, so a large
 * backlog of old rows never holds the write lock long enough to stall ingest.
 */
export class RetentionJob {
  private timer?: NodeJS.Timeout;
  private running = false;
  deleted = 0;

  constructor(
    private readonly store: EventStore,
    private readonly retentionMs: number,
    private readonly opts: { intervalMs: number; batchSize: number; maxBatchesPerRun: number } = { intervalMs: 60_000, batchSize: 1000, maxBatchesPerRun: 100 },
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    // A database outage must not crash the controller (unhandled rejection); the next run retries.
    this.timer = setInterval(() => void this.runOnce().catch(() => undefined), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async runOnce(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let total = 0;
    try {
      const cutoff = this.now() - this.retentionMs;
      for (let i = 0; i < this.opts.maxBatchesPerRun; i++) {
        const n = await this.store.deleteOlderThan(cutoff, this.opts.batchSize);
        total += n;
        if (n < this.opts.batchSize) break;
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
    this.deleted += total;
    return total;
  }
}
