/**
 * A check that runs every `everyMs` and on demand, whose passes never overlap: a slow pass (a
 * database under load) is joined, not doubled. The agent watchers (silence, telemetry health)
 * share it and keep only their own pass.
 */
export class PeriodicPass<T> {
  private timer?: NodeJS.Timeout;
  private running?: Promise<T>;

  constructor(
    private readonly pass: () => Promise<T>,
    private readonly onError?: (err: unknown) => void,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => void this.run().catch((err: unknown) => this.onError?.(err)), everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One pass, or the one already running. */
  run(): Promise<T> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }
}
