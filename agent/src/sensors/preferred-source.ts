import type { EventSink, Sensor, SensorHealth } from "./sensor";

/** One way to feed a sensor, and what it cannot see when it is the one running. */
export interface SourceCandidate {
  /** How health names it: "ebpf", "audit", "/proc polling". */
  source: string;
  create: () => Sensor;
  /** What this source misses, said next to its health ("" for the best one). */
  misses: string;
}

/**
 * One sensor name, several ways to feed it, best first (the kernel's through eBPF, then auditd's
 * exec records, then /proc polling). The first that starts runs; which one, why each better one
 * does not, and what the running one misses are in health().detail, so GET /agents says what a
 * host can and cannot see. A candidate counts as started when its health says running.
 */
export class PreferredSource implements Sensor {
  private active: { candidate: SourceCandidate; sensor: Sensor; at: number } | undefined;
  private readonly whyNot: string[] = [];

  constructor(
    readonly name: string,
    private readonly candidates: readonly SourceCandidate[],
  ) {}

  async start(sink: EventSink): Promise<void> {
    for (const [at, candidate] of this.candidates.entries()) {
      const sensor = candidate.create();
      await sensor.start(sink);
      const h = sensor.health();
      if (h.running) {
        this.active = { candidate, sensor, at };
        return;
      }
      await sensor.stop().catch(() => {});
      this.whyNot.push(h.detail || `${candidate.source} did not start`);
    }
  }

  async stop(): Promise<void> {
    await this.active?.sensor.stop();
  }

  /** The source that runs (for wiring that depends on it). */
  get running(): Sensor | undefined {
    return this.active?.sensor;
  }

  health(): SensorHealth {
    if (!this.active) return { name: this.name, running: false, detail: this.whyNot.join("; "), events: 0, errors: 0 };
    const { candidate, sensor, at } = this.active;
    const h = sensor.health();
    if (at === 0 && !candidate.misses) return { ...h, name: this.name };
    const why = this.whyNot.length ? ` (${this.whyNot.join("; ")})` : "";
    const own = h.detail ? `; ${h.detail}` : "";
    const misses = candidate.misses ? `; misses: ${candidate.misses}` : "";
    return { ...h, name: this.name, detail: `source: ${candidate.source}${why}${misses}${own}` };
  }
}
