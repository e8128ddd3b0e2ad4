import type { EventSink, Sensor, SensorHealth } from "./sensor";

/**
 * One sensor name, two ways to feed it: the preferred source (the kernel's, through eBPF) when it
 * starts, else the fallback (/proc polling). Which one runs, and why the other does not, is in
 * health().detail, so GET /agents says what a host can and cannot see.
 */
export class PreferredSource implements Sensor {
  private active: Sensor | undefined;
  private whyNotPreferred = "";

  constructor(
    readonly name: string,
    private readonly preferred: Sensor,
    private readonly fallback: (() => Sensor) | undefined,
    /** What the fallback cannot see, said next to its health. */
    private readonly fallbackMisses: string,
  ) {}

  async start(sink: EventSink): Promise<void> {
    await this.preferred.start(sink);
    const h = this.preferred.health();
    if (h.running) {
      this.active = this.preferred;
      return;
    }
    this.whyNotPreferred = h.detail;
    if (!this.fallback) return;
    this.active = this.fallback();
    await this.active.start(sink);
  }

  async stop(): Promise<void> {
    await this.active?.stop();
  }

  /** The source that runs (for wiring that depends on it). */
  get running(): Sensor | undefined {
    return this.active;
  }

  health(): SensorHealth {
    if (this.active === this.preferred) return { ...this.preferred.health(), name: this.name };
    if (!this.active) return { name: this.name, running: false, detail: this.whyNotPreferred, events: 0, errors: 0 };
    const h = this.active.health();
    const why = this.whyNotPreferred ? ` (${this.whyNotPreferred})` : "";
    const own = h.detail ? `; ${h.detail}` : "";
    return { ...h, name: this.name, detail: `source: /proc polling${why}; ${this.fallbackMisses}${own}` };
  }
}
