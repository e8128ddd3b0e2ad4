/** The gate is full: the caller is told to retry (the agent backs off) instead of queueing without end. */
export class GateFull extends Error {}

/**
 * At most `active` registrations at once, at most `queued` more waiting (first come, first served).
 *
 * Why: when thousands of agents connect together (a replica restarts, a failover), unbounded
 * registrations once held the whole database pool and most of them timed out waiting for a
 * connection; each failure sent its agent back to reconnect and made the storm longer (bench:scale,
 * 10,000 agents: 133 registrations failed so). Their statements are coalesced now (one per batch,
 * see Coalescer), so the bound is on what each running registration holds in memory and in NATS
 * look-ups; the queue keeps a storm waiting here instead of retrying through TLS handshakes.
 */
export class RegistrationGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  readonly stats = { admitted: 0, refused: 0, peakWaiting: 0 };

  constructor(
    private readonly active: number,
    private readonly queued: number,
  ) {
    if (!(active >= 1) || !(queued >= 0)) throw new RangeError("active must be at least 1 and queued at least 0");
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.active) {
      if (this.waiting.length >= this.queued) {
        this.stats.refused++;
        throw new GateFull(`${this.running} registrations running and ${this.waiting.length} waiting`);
      }
      const queued = new Promise<void>((r) => this.waiting.push(r));
      this.stats.peakWaiting = Math.max(this.stats.peakWaiting, this.waiting.length);
      await queued;
    } else {
      this.running++;
    }
    this.stats.admitted++;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next in line (running stays counted), or is freed.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
