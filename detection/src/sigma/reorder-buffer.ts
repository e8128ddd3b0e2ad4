/**
 * Holds items until event time has moved `toleranceMs` past them, then releases them in
 * event-time order (ties by `tieBreak`, then in arrival order). Items arriving up to `toleranceMs` out of order are
 * therefore processed exactly as if they had arrived sorted.
 */
export interface Timed {
  timeMs: number;
}

export class ReorderBuffer<T extends Timed> {
  private heap: { item: T; seq: number }[] = [];
  private seq = 0;
  private maxSeen = -Infinity;
  /** everything at or before this time has been released */
  private released = -Infinity;
  forced = 0;

  /** @param tieBreak orders items with equal times (before arrival order), e.g. by a key both live and replay share */
  constructor(
    private readonly toleranceMs: number,
    private readonly maxItems: number,
    private readonly tieBreak?: (a: T, b: T) => number,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  /** True when an item at this time would arrive after its time was already released. */
  isLate(timeMs: number): boolean {
    return timeMs <= this.released;
  }

  push(item: T): void {
    this.heapPush({ item, seq: this.seq++ });
  }

  /** Note that event time reached `timeMs` (an event, or a clock tick) and return what is due. */
  observe(timeMs: number): T[] {
    if (timeMs > this.maxSeen) this.maxSeen = timeMs;
    const out = this.releaseUpTo(this.maxSeen - this.toleranceMs);
    // Bounded memory: beyond the cap the oldest items go out early (and are counted).
    while (this.heap.length > this.maxItems) {
      this.forced++;
      out.push(...this.releaseUpTo(this.heap[0].item.timeMs));
    }
    return out;
  }

  drain(): T[] {
    return this.releaseUpTo(Infinity);
  }

  /** The release point, for closing correlation windows. */
  get watermark(): number {
    return this.released;
  }

  private releaseUpTo(t: number): T[] {
    const out: T[] = [];
    while (this.heap.length && this.heap[0].item.timeMs <= t) out.push(this.heapPop().item);
    if (t > this.released) this.released = t;
    return out;
  }

  private less(a: { item: T; seq: number }, b: { item: T; seq: number }): boolean {
    if (a.item.timeMs !== b.item.timeMs) return a.item.timeMs < b.item.timeMs;
    const t = this.tieBreak?.(a.item, b.item) ?? 0;
    return t !== 0 ? t < 0 : a.seq < b.seq;
  }

  private heapPush(x: { item: T; seq: number }): void {
    const h = this.heap;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private heapPop(): { item: T; seq: number } {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
