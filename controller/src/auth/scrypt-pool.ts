import { scrypt, type ScryptOptions } from "node:crypto";

/** Every scrypt slot and queue place is taken: refuse now rather than make everyone wait. */
export class ScryptBusy extends Error {
  constructor() {
    super("too many API key checks in progress");
  }
}

/**
 * Runs scrypt (libuv's thread pool, never the event loop) with bounded
 * concurrency and bounded queues, so a flood of key guesses occupies at most
 * `concurrency` threads and a caller waits behind at most `maxQueue` others;
 * past that the check is refused at once (ScryptBusy). Checks for keys known
 * to be in use have their own queue, served first: guesses at unknown ids, the
 * bulk of any flood, cannot make a working key wait behind them.
 */
export class ScryptPool {
  /** scrypt computations started (a test counts them: every key check costs exactly one). */
  runs = 0;
  rejected = 0;
  private active = 0;
  private readonly urgent: Array<() => void> = [];
  private readonly normal: Array<() => void> = [];

  constructor(private readonly concurrency = 2, private readonly maxQueue = 32) {}

  async hash(secret: string, salt: Buffer, keylen: number, opts: ScryptOptions, priority = false): Promise<Buffer> {
    if (this.active >= this.concurrency) {
      const queue = priority ? this.urgent : this.normal;
      if (queue.length >= this.maxQueue) {
        this.rejected++;
        throw new ScryptBusy();
      }
      await new Promise<void>((resolve) => queue.push(resolve));
    } else this.active++;
    try {
      this.runs++;
      return await new Promise<Buffer>((resolve, reject) => scrypt(secret, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
    } finally {
      // Hand the slot straight to the next waiter (active stays the same) or free it.
      const next = this.urgent.shift() ?? this.normal.shift();
      if (next) next();
      else this.active--;
    }
  }

  get waiting(): number {
    return this.urgent.length + this.normal.length;
  }
}
