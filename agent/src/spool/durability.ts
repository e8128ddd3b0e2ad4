import { fsyncDir, type Segment } from "./segment";
import type { SpoolState } from "./state";

/**
 * Applies the fsync policy after each append and decides when written bytes may
 * be leased: only once they are as durable as the policy promises, so a record
 * the controller has seen cannot disappear from the spool in a power loss (and
 * its seq be handed out again).
 */
export class Durability {
  private dirty = new Set<Segment>();
  private dirDirty = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastSyncAt = -Infinity;

  constructor(
    private readonly st: SpoolState,
    private readonly onLeasable: () => void,
    private readonly onError: (message: string) => void,
  ) {}

  /** Called after bytes were appended to `seg` (`created`: the file is new). */
  written(seg: Segment, created: boolean): void {
    this.dirty.add(seg);
    if (created) this.dirDirty = true;
    // "never" flushes too: it skips the sync but still releases the bytes for leasing.
    if (this.st.opts.fsync !== "interval") return this.flush(false);
    // Leading edge: the first record after a quiet interval is synced and leasable at once (an
    // alert-worthy line does not wait for a timer); records within an interval of the last sync
    // wait for one trailing sync. Either way at most one sync per interval.
    const wait = this.lastSyncAt + this.st.opts.fsyncIntervalMs - performance.now();
    if (wait <= 0 && !this.timer) this.flushOrRetry();
    else this.schedule(Math.max(0, wait));
  }

  /** Syncs what is dirty (if the policy syncs at all, or `force`) and releases it for leasing. */
  flush(force: boolean): void {
    if (this.st.durable || force) {
      this.lastSyncAt = performance.now();
      for (const seg of this.dirty) seg.sync();
      if (this.dirDirty) fsyncDir(this.st.dir);
    }
    this.dirty.clear();
    this.dirDirty = false;
    for (const seg of this.st.segments) this.st.leasable.set(seg, seg.size);
    this.onLeasable();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs = this.st.opts.fsyncIntervalMs): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) this.flushOrRetry();
    }, delayMs);
    this.timer.unref();
  }

  private flushOrRetry(): void {
    try {
      this.flush(false);
    } catch (err) {
      // The records stay on disk, unleased, until a later sync succeeds.
      this.onError(`fsync failed: ${(err as Error).message}`);
      this.schedule();
    }
  }
}
