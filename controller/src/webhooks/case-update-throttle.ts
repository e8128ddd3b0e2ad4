import type { Notice } from "../integrations/notices";

export interface CaseUpdateThrottleOptions {
  /** At most one `case.updated` per case per window goes out; the rest are coalesced. */
  windowMs: number;
  /** Cases with a coalesced update waiting; beyond it, new cases' updates are dropped and counted. */
  maxPending: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => { unref?: () => void };
}

/**
 * `case.updated` fires on every alert that joins a case: a brute force that raises an alert a
 * second would page a receiver a second. Per case, the first update of a window goes out at once;
 * later ones in that window collapse into one delivery of the LATEST state at the window's end,
 * so a receiver always ends up with the case as it is, at most once per window per case.
 */
export class CaseUpdateThrottle {
  private readonly lastSent = new Map<string, number>();
  private readonly pending = new Map<string, Notice>();
  private readonly now: () => number;
  private readonly setTimer: NonNullable<CaseUpdateThrottleOptions["setTimer"]>;
  /** Updates folded into a later one (not lost: the later one carries the newer state). */
  coalesced = 0;
  /** Updates dropped because `maxPending` cases were already waiting. */
  dropped = 0;

  constructor(
    private readonly opts: CaseUpdateThrottleOptions,
    private readonly send: (n: Notice) => void,
  ) {
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  }

  offer(n: Notice): void {
    const id = typeof n.data.id === "string" ? n.data.id : "";
    const now = this.now();
    this.forgetOlderThan(now - this.opts.windowMs);
    const last = this.lastSent.get(id);
    if (last === undefined) {
      this.lastSent.set(id, now);
      this.send(n);
      return;
    }
    if (this.pending.has(id)) {
      this.pending.set(id, n);
      this.coalesced++;
      return;
    }
    if (this.pending.size >= this.opts.maxPending) {
      this.dropped++;
      return;
    }
    this.pending.set(id, n);
    const t = this.setTimer(() => this.flush(id), Math.max(0, last + this.opts.windowMs - now));
    t.unref?.();
  }

  private flush(id: string): void {
    const n = this.pending.get(id);
    this.pending.delete(id);
    if (!n) return;
    // Re-insert so the map stays in send-time order for forgetOlderThan.
    this.lastSent.delete(id);
    this.lastSent.set(id, this.now());
    this.send(n);
  }

  /** `lastSent` is in insertion (= send time) order, mostly: drop the stale head so the map stays bounded by the window's traffic. */
  private forgetOlderThan(cutoff: number): void {
    for (const [id, t] of this.lastSent) {
      if (t > cutoff) break;
      if (!this.pending.has(id)) this.lastSent.delete(id);
    }
  }
}
