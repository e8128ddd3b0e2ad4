import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

/** How late the event loop ran timers over the last complete window (ms): every database and NATS reply waits that long for its turn. */
export interface EventLoopDelay {
  windowMs: number;
  meanMs: number;
  p99Ms: number;
  maxMs: number;
}

const ms = (ns: number) => Math.round(ns / 1e5) / 10;

/**
 * The main thread's event-loop delay over fixed windows: a replica whose loop is late makes every
 * round trip of its storage and detection late by as much (bench:scale found 0.4–0.6 s p99 on a
 * saturated host). Reports the last complete window, so a reading never mixes an old stall with
 * a quiet present.
 */
export class EventLoopDelayMonitor {
  private histogram?: IntervalHistogram;
  private timer?: NodeJS.Timeout;
  private last: EventLoopDelay;

  constructor(private readonly windowMs = 10_000) {
    this.last = { windowMs, meanMs: 0, p99Ms: 0, maxMs: 0 };
  }

  start(): this {
    if (this.histogram) return this;
    const h = monitorEventLoopDelay({ resolution: 20 });
    h.enable();
    this.histogram = h;
    this.timer = setInterval(() => {
      this.last = { windowMs: this.windowMs, meanMs: ms(h.mean || 0), p99Ms: ms(h.percentile(99)), maxMs: ms(h.max) };
      h.reset();
    }, this.windowMs).unref();
    return this;
  }

  reading(): EventLoopDelay {
    return this.last;
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram?.disable();
    this.histogram = undefined;
  }
}

let processMonitor: EventLoopDelayMonitor | undefined;

/** This process's monitor (10 s windows), started on first use: health reads it. */
export function eventLoopDelay(): EventLoopDelay {
  processMonitor ??= new EventLoopDelayMonitor().start();
  return processMonitor.reading();
}
