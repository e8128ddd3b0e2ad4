/**
 * The agent's own watchdog, after osquery's: resident memory and CPU are sampled in-process, and
 * a ceiling exceeded for a whole window is a breach. The caller (the runtime) then stops cleanly
 * (the spool is on disk: nothing spooled is lost) and exits with EXIT_WATCHDOG; the service
 * manager (systemd Restart=always) starts a fresh process. In-process rather than a supervisor
 * process because a second Node process costs ~40 MB resident at idle, which alone would break the
 * agent's 60 MB idle budget (see docs/reliability.md). What it cannot see: a event loop blocked
 * outright (no sample runs); a hung agent is the service manager's liveness check to catch.
 */
export type WatchdogReason = "memory" | "cpu";

/** EX_TEMPFAIL (sysexits.h): restart me. */
export const EXIT_WATCHDOG = 75;

export interface WatchdogOptions {
  /** Resident set ceiling in bytes; 0 = no memory check. */
  maxRssBytes: number;
  /** CPU ceiling in percent of one core, averaged over the window; 0 = no CPU check. */
  maxCpuPercent: number;
  /** How long a ceiling must be exceeded before it is a breach. */
  windowMs: number;
  onBreach: (reason: WatchdogReason, detail: string) => void;
  /** Sampling period; default windowMs/6, between 250 ms and 5 s. */
  sampleMs?: number;
  rss?: () => number;
  /** CPU time used by the process so far, in microseconds (user + system). */
  cpuMicros?: () => number;
  now?: () => number;
}

interface Sample {
  at: number;
  rss: number;
  cpuMicros: number;
}

export class Watchdog {
  private readonly samples: Sample[] = [];
  private timer?: NodeJS.Timeout;
  private breached = false;
  private readonly rss: () => number;
  private readonly cpuMicros: () => number;
  private readonly now: () => number;
  readonly sampleMs: number;

  constructor(private readonly o: WatchdogOptions) {
    this.rss = o.rss ?? (() => process.memoryUsage.rss());
    this.cpuMicros =
      o.cpuMicros ??
      (() => {
        const u = process.cpuUsage();
        return u.user + u.system;
      });
    this.now = o.now ?? Date.now;
    this.sampleMs = o.sampleMs ?? Math.min(5_000, Math.max(250, Math.floor(o.windowMs / 6)));
  }

  get enabled(): boolean {
    return this.o.maxRssBytes > 0 || this.o.maxCpuPercent > 0;
  }

  start(): void {
    if (!this.enabled || this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Takes one sample and checks the ceilings (exposed so tests drive time themselves). */
  sample(): void {
    if (this.breached) return;
    const s: Sample = { at: this.now(), rss: this.rss(), cpuMicros: this.cpuMicros() };
    this.samples.push(s);
    // Keep just enough history to cover the window from the oldest sample.
    while (this.samples.length > 2 && s.at - this.samples[1]!.at >= this.o.windowMs) this.samples.shift();
    const oldest = this.samples[0]!;
    const span = s.at - oldest.at;
    if (span < this.o.windowMs) return;
    if (this.o.maxRssBytes > 0 && this.samples.every((x) => x.rss > this.o.maxRssBytes)) {
      return this.breach("memory", `resident memory above ${mib(this.o.maxRssBytes)} MiB for ${span} ms (now ${mib(s.rss)} MiB)`);
    }
    const cpuPercent = ((s.cpuMicros - oldest.cpuMicros) / 1000 / span) * 100;
    if (this.o.maxCpuPercent > 0 && cpuPercent > this.o.maxCpuPercent) {
      return this.breach("cpu", `CPU ${cpuPercent.toFixed(0)}% of a core over ${span} ms (ceiling ${this.o.maxCpuPercent}%)`);
    }
  }

  private breach(reason: WatchdogReason, detail: string): void {
    this.breached = true;
    this.stop();
    this.o.onBreach(reason, detail);
  }
}

function mib(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}
