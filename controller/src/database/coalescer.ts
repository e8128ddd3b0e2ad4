/** How a Coalescer turns many callers' items into few statements. */
export interface CoalescerOptions<I, R> {
  /** One statement (or a few) for a batch: one result per item, in the items' order. */
  runMany: (items: I[]) => Promise<R[]>;
  /** Most items per batch (a statement's parameter bound). */
  maxItems: number;
  /**
   * Items with the same key never share a batch: the later one waits for the next batch, so it
   * sees what the earlier one wrote and gets a row object of its own.
   */
  keyOf?: (item: I) => string;
  /**
   * A batch that fails is run again one item at a time, so one bad item fails only its own
   * caller (writes). Off for reads: a failed read is the database being away, and repeating it
   * per item would multiply the load on it.
   */
  isolateFailures?: boolean;
}

interface Waiting<I, R> {
  item: I;
  resolve: (r: R) => void;
  reject: (err: unknown) => void;
}

/**
 * Merges the same statement of many concurrent callers into one, a batch at a time.
 *
 * Why: when a fleet connects together (a controller restart, a failover, 10,000 agents in
 * bench:scale), every registration did its own look-ups and its own write, each a round trip
 * that held a pooled connection and, on a loaded host, waited out the event loop's delay; the
 * gate that kept them from emptying the pool let a few through at a time. Here the callers
 * queued while one batch runs go together in the next: one connection and one round trip for
 * hundreds of them.
 *
 * An item queued while a batch runs is never answered by that batch (it went out before the
 * item was asked for): a revocation or a write committed in between is seen. Nothing is cached.
 */
export class Coalescer<I, R> {
  private queue: Array<Waiting<I, R>> = [];
  private running = false;
  readonly stats = { batches: 0, items: 0, isolatedRuns: 0 };

  constructor(private readonly o: CoalescerOptions<I, R>) {
    if (!(o.maxItems >= 1)) throw new RangeError("maxItems must be at least 1");
  }

  submit(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        // Callers in the same turn of the event loop join the first batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.take();
      this.stats.batches++;
      this.stats.items += batch.length;
      await this.run(batch);
    }
    this.running = false;
  }

  /** The next batch in queue order: at most maxItems, one per key; the rest stay queued in order. */
  private take(): Array<Waiting<I, R>> {
    const keyOf = this.o.keyOf;
    if (!keyOf) return this.queue.splice(0, this.o.maxItems);
    const keys = new Set<string>();
    const batch: Array<Waiting<I, R>> = [];
    const rest: Array<Waiting<I, R>> = [];
    for (const w of this.queue) {
      const k = keyOf(w.item);
      if (batch.length < this.o.maxItems && !keys.has(k)) {
        keys.add(k);
        batch.push(w);
      } else rest.push(w);
    }
    this.queue = rest;
    return batch;
  }

  private async run(batch: Array<Waiting<I, R>>): Promise<void> {
    try {
      const results = await this.o.runMany(batch.map((w) => w.item));
      if (results.length !== batch.length) throw new Error(`batch of ${batch.length} answered ${results.length} results`);
      batch.forEach((w, i) => w.resolve(results[i]));
    } catch (err) {
      if (!this.o.isolateFailures || batch.length === 1) {
        for (const w of batch) w.reject(err);
        return;
      }
      this.stats.isolatedRuns++;
      for (const w of batch) await this.run([w]);
    }
  }
}
