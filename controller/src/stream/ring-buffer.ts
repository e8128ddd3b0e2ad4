/**
 * The recent messages of one topic, for resuming clients. Bounded: when full the oldest goes, and
 * `evictedUpTo` remembers the newest id that is gone, so a client that last saw an older id can be
 * told it missed messages instead of silently skipping them.
 */
export class RingBuffer<T extends { id: number }> {
  private readonly items: Array<T | undefined>;
  private start = 0;
  private size = 0;

  constructor(
    readonly capacity: number,
    public evictedUpTo: number,
  ) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(m: T): void {
    if (this.size === this.capacity) {
      this.evictedUpTo = this.items[this.start]!.id;
      this.items[this.start] = m;
      this.start = (this.start + 1) % this.capacity;
      return;
    }
    this.items[(this.start + this.size) % this.capacity] = m;
    this.size++;
  }

  /** Messages with id > afterId, oldest first. */
  after(afterId: number): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) {
      const m = this.items[(this.start + i) % this.capacity]!;
      if (m.id > afterId) out.push(m);
    }
    return out;
  }

  get length(): number {
    return this.size;
  }
}
