import { scrypt, type ScryptOptions } from "node:crypto";

/** Every scrypt slot and queue place is taken: refuse now rather than make everyone wait. */
export class ScryptBusy extends Error {
  constructor() {
    super("too many API key checks in progress");
  }
}

/** Waiting checks of one class, queued per lane and served round-robin. */
class Lanes {
  /** lane -> its waiters; Map order is the round-robin order. */
  private readonly lanes = new Map<string, Array<() => void>>();
  size = 0;

  constructor(
    private readonly maxQueue: number,
    private readonly maxPerLane: number,
  ) {}

  /** False when this class or this lane is full. */
  admit(lane: string, waiter: () => void): boolean {
    const queue = this.lanes.get(lane) ?? [];
    if (this.size >= this.maxQueue || queue.length >= this.maxPerLane) return false;
    queue.push(waiter);
    this.lanes.set(lane, queue);
    this.size++;
    return true;
  }

  next(): (() => void) | undefined {
    for (const [lane, queue] of this.lanes) {
      const next = queue.shift();
      // The lane goes to the back of the rotation (or away when empty).
      this.lanes.delete(lane);
      if (queue.length > 0) this.lanes.set(lane, queue);
      if (next) {
        this.size--;
        return next;
      }
    }
    return undefined;
  }
}

/**
 * Runs scrypt (libuv's thread pool, never the event loop) with bounded
 * concurrency and bounded queues, so a flood of key guesses occupies at most
 * `concurrency` threads and a caller waits behind at most `maxQueue` others of
 * its class; past that the check is refused at once (ScryptBusy).
 *
 * Two classes: checks of keys known to be in use, and the rest. Each class
 * queues per lane (who is charged for the attempt: a key id, or a client
 * address) and serves its lanes round-robin; the classes take turns. So a flood
 * only ever waits behind itself: guesses at unknown ids from many addresses
 * cannot delay a working key, and guesses at a working key's id (one lane,
 * `maxPerLane` deep) cannot delay a valid key that has never been used — which
 * a plain priority queue did, by ~0.6 s (bench:adversarial 6b).
 */
export class ScryptPool {
  /** scrypt computations started (a test counts them: every key check costs exactly one). */
  runs = 0;
  rejected = 0;
  private active = 0;
  private readonly urgent: Lanes;
  private readonly normal: Lanes;
  private urgentTurn = true;

  constructor(
    private readonly concurrency = 2,
    maxQueue = 32,
    maxPerLane = 8,
  ) {
    this.urgent = new Lanes(maxQueue, maxPerLane);
    this.normal = new Lanes(maxQueue, maxPerLane);
  }

  async hash(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions, priority = false, lane = ""): Promise<Buffer> {
    if (this.active >= this.concurrency) {
      let wake: () => void = () => undefined;
      const turn = new Promise<void>((resolve) => (wake = resolve));
      if (!(priority ? this.urgent : this.normal).admit(lane, wake)) {
        this.rejected++;
        throw new ScryptBusy();
      }
      await turn;
    } else this.active++;
    try {
      this.runs++;
      return await new Promise<Buffer>((resolve, reject) => scrypt(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
    } finally {
      // Hand the slot straight to the next waiter (active stays the same) or free it.
      const next = this.nextWaiter();
      if (next) next();
      else this.active--;
    }
  }

  get waiting(): number {
    return this.urgent.size + this.normal.size;
  }

  private nextWaiter(): (() => void) | undefined {
    const [first, second] = this.urgentTurn ? [this.urgent, this.normal] : [this.normal, this.urgent];
    this.urgentTurn = !this.urgentTurn;
    return first.next() ?? second.next();
  }
}
