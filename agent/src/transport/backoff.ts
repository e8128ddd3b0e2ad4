/** Full-jitter exponential backoff: spreads a fleet's reconnects after a controller restart. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly baseMs = 500, private readonly capMs = 30_000, private readonly random: () => number = Math.random) {}

  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}
