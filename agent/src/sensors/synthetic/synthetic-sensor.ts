import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../../platform/linux/atomic-file";
import { SensorCounters, type EventSink, type Sensor, type SensorHealth } from "../sensor";
import { kindOf, parseMix, syntheticBody, type SyntheticKind } from "./mix";

export interface SyntheticSensorOptions {
  /** Events per second. */
  rate: number;
  /** Total events over the life of the state dir (restarts included); 0 = no end. */
  count: number;
  /** Where `state.json` (the next number) lives, e.g. `<stateDir>/synthetic`. */
  stateDir: string;
  /** Kinds and weights, see parseMix. Default "agent" (all High priority). */
  mix?: string;
  /** How often to emit what is due. Default 10 ms. */
  tickMs?: number;
}

/** A sink that can push its buffer to the spool now (EventPipeline can). */
interface FlushableSink extends EventSink {
  flush(): void;
}

function isFlushable(sink: EventSink): sink is FlushableSink {
  return typeof (sink as Partial<FlushableSink>).flush === "function";
}

/**
 * A numbered event source for fault-injection tests and benchmarks: event n
 * (1, 2, 3, ...) carries n, at a fixed rate, continuing across restarts.
 *
 * The next number is written to the state file *before* the events that use it
 * are emitted and flushed to the spool (all in one synchronous step). So a
 * kill -9 can only ever skip numbers (the ones reserved in that step), never
 * repeat one under a new seq; a test sees any skip as a jump in n between two
 * consecutive seqs. The spool's seqs remain the ground truth of what was produced.
 *
 * A step is at most one tick's worth (`stepSize`), also when a late tick catches
 * up: a loaded machine runs ticks late, and catching up in one reservation would
 * let a kill skip up to a second's worth of numbers instead of one tick's.
 */
export class SyntheticSensor implements Sensor {
  readonly name = "synthetic";
  private readonly counters = new SensorCounters();
  private readonly pattern: SyntheticKind[];
  private readonly file: string;
  private timer?: NodeJS.Timeout;
  private next = 1;
  private startedAt = 0;
  private emittedSinceStart = 0;

  constructor(private readonly o: SyntheticSensorOptions) {
    if (!(o.rate > 0)) throw new RangeError(`synthetic rate must be > 0, got ${o.rate}`);
    this.pattern = parseMix(o.mix ?? "agent");
    this.file = join(o.stateDir, "state.json");
  }

  /** The most numbers one reserve-emit-flush step takes: one tick's worth at the configured rate (so, at most what a kill -9 skips). */
  get stepSize(): number {
    return Math.max(1, Math.ceil((this.o.rate * (this.o.tickMs ?? 10)) / 1000));
  }

  /** The number the next event will carry (one past the last one produced). */
  get nextNumber(): number {
    return this.next;
  }

  async start(sink: EventSink): Promise<void> {
    mkdirSync(this.o.stateDir, { recursive: true });
    this.next = this.load();
    this.startedAt = Date.now();
    this.emittedSinceStart = 0;
    this.counters.running = true;
    this.timer = setInterval(() => this.tick(sink), this.o.tickMs ?? 10);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.counters.running = false;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
  }

  private tick(sink: EventSink): void {
    // Back-pressure (spool full under `block`): what is due is produced once the spool has room.
    if (sink.congested) return;
    const due = Math.floor(((Date.now() - this.startedAt) * this.o.rate) / 1000) - this.emittedSinceStart;
    // After a long stall (GC, a blocked disk) catch up, but at most a second's worth per tick.
    let k = Math.min(due, Math.max(1, this.o.rate));
    if (this.o.count > 0) k = Math.min(k, this.o.count - this.next + 1);
    if (k <= 0) {
      if (this.o.count > 0 && this.next > this.o.count) this.finish();
      return;
    }
    // In steps of one tick's worth, each reserved, emitted and spooled before the next is reserved.
    for (let left = k; left > 0 && this.timer && !sink.congested;) {
      const step = Math.min(left, this.stepSize);
      if (!this.step(sink, step)) return;
      left -= step;
    }
  }

  /** Reserves `k` numbers (persisted first), emits them and pushes them to the spool. False when it had to stop. */
  private step(sink: EventSink, k: number): boolean {
    const first = this.next;
    this.next += k;
    this.emittedSinceStart += k;
    try {
      this.save();
    } catch (err) {
      // Without a durable position a restart would repeat numbers: stop rather than lie.
      this.counters.errors++;
      this.counters.detail = `cannot persist ${this.file}: ${String(err)}`;
      this.next = first;
      this.emittedSinceStart -= k;
      this.finish();
      return false;
    }
    const now = Date.now();
    let n = first;
    // Back-pressure can start mid-step (a flush found the spool full): stop there.
    for (; n < first + k && !sink.congested; n++) sink.emit(syntheticBody(kindOf(this.pattern, n), n, now), now);
    this.counters.events += n - first;
    if (n < first + k) this.giveBack(n, first + k - n);
    // Into the spool in the same step as the reservation, so a kill cannot leave numbers in memory only.
    if (isFlushable(sink)) sink.flush();
    return true;
  }

  /** Returns reserved numbers not emitted (n onwards) so they come next, not skipped. */
  private giveBack(n: number, unused: number): void {
    this.next = n;
    this.emittedSinceStart -= unused;
    try {
      this.save();
    } catch {
      // The saved position is past n: a crash now skips those numbers, which the contract allows.
    }
  }

  private finish(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.counters.detail) this.counters.detail = `done: produced numbers 1..${this.next - 1}`;
  }

  private load(): number {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return 1;
      throw err;
    }
    const next = (JSON.parse(text) as { next?: unknown }).next;
    if (typeof next !== "number" || !Number.isSafeInteger(next) || next < 1) throw new Error(`${this.file}: bad "next" ${JSON.stringify(next)}`);
    return next;
  }

  private save(): void {
    writeJsonAtomic(this.file, { next: this.next }, { durable: false });
  }
}
