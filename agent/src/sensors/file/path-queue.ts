/**
 * Runs `work(path)` once per burst of notifications for that path: the first
 * notification starts a short timer, later ones within it are absorbed, and a
 * notification during a run schedules exactly one more run. Runs for one path
 * never overlap, so the examine logic needs no locking.
 */
export class PathQueue {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly dirty = new Set<string>();
  private closed = false;

  constructor(
    private readonly delayMs: number,
    private readonly work: (path: string) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  schedule(path: string): void {
    if (this.closed || this.timers.has(path)) return;
    if (this.running.has(path)) {
      this.dirty.add(path);
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(path);
      const run = this.work(path)
        .catch(this.onError)
        .finally(() => {
          this.running.delete(path);
          if (this.dirty.delete(path)) this.schedule(path);
        });
      this.running.set(path, run);
    }, this.delayMs);
    timer.unref();
    this.timers.set(path, timer);
  }

  /** Stops accepting work and waits for runs in progress. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.dirty.clear();
    await Promise.allSettled([...this.running.values()]);
  }
}
