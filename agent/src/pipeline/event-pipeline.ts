import { Event } from "@vigil/proto";
import type { EventBody, EventSink } from "../sensors/sensor";
import { Priority, SpoolFullError, type AppendItem, type DiskSpool } from "../spool";
import type { Log } from "../util/log";

/** Auth and enforcement records are evidence; telemetry is the first to go when the spool is full. */
export function priorityOf(body: EventBody): Priority {
  switch (body.$case) {
    case "auth":
    case "agent":
      return Priority.High;
    default:
      return Priority.Low;
  }
}

export type StoredEventListener = (event: Event) => void;

/**
 * Why events were lost between a sensor and the spool (reported in AgentStatus.pipeline_lost):
 * - spool_error: the spool refused a write (I/O error, an event that could not be encoded);
 * - held_overflow: under `spool_full_policy: block` the spool stayed full longer than the
 *   pipeline could hold events in memory (the link is down and sensors that cannot pace
 *   themselves kept producing);
 * - shutdown: events still held for a full spool when the agent stopped.
 */
export type LossReason = "spool_error" | "held_overflow" | "shutdown";

export interface PipelineOptions {
  maxBatch: number;
  maxDelayMs: number;
  /** Events held in memory while a `block` spool is full; beyond this they are lost and counted. */
  maxHeld: number;
}

/** maxDelayMs 0: flush at the end of the current event-loop turn. */
const DEFAULTS: PipelineOptions = { maxBatch: 256, maxDelayMs: 0, maxHeld: 50_000 };

type Pending = { body: EventBody; time: number };

/**
 * Collects sensor output and appends it to the spool in one write, so the disk sees batches, not
 * one syscall per event. A batch is what one turn of the event loop produced (flushed at
 * setImmediate; a burst of kernel records read in one turn is one write), or what `maxDelayMs`
 * collects when set: waiting 20 ms was most of the time from an exec to the local policy's
 * action. Listeners (local detection) see each event with its final seq once it is on disk.
 *
 * Under `spool_full_policy: block` a full spool does not lose events: they are held, in order,
 * `congested` turns true so sensors that can pace themselves stop producing, and they are
 * appended as soon as an ack frees space (`waitForSpace`). What cannot be held is counted by
 * reason, never dropped silently.
 */
export class EventPipeline implements EventSink {
  private pending: Pending[] = [];
  private held: Pending[] = [];
  private draining = false;
  private readonly stopCtl = new AbortController();
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private listeners: StoredEventListener[] = [];
  private readonly opts: PipelineOptions;
  private readonly lostBy: Record<LossReason, number> = { spool_error: 0, held_overflow: 0, shutdown: 0 };
  appended = 0;
  /** Times the spool was found full under `block` (each starts a hold). */
  blockedEpisodes = 0;

  constructor(
    private readonly spool: DiskSpool,
    private readonly log: Log,
    opts: Partial<PipelineOptions> = {},
  ) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  /** True while events wait for space in a full spool: sensors that can wait should. */
  get congested(): boolean {
    return this.held.length > 0;
  }

  /** Events lost so far, by reason (only reasons that happened). */
  lost(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.lostBy).filter(([, n]) => n > 0));
  }

  /** Total events lost (all reasons). */
  get failures(): number {
    return this.lostBy.spool_error + this.lostBy.held_overflow + this.lostBy.shutdown;
  }

  get heldCount(): number {
    return this.held.length;
  }

  onEvent(l: StoredEventListener): void {
    this.listeners.push(l);
  }

  emit(body: EventBody, eventTimeMs: number): void {
    this.pending.push({ body, time: eventTimeMs });
    if (this.pending.length >= this.opts.maxBatch) this.flush();
    else if (this.opts.maxDelayMs > 0) this.timer ??= setTimeout(() => this.flush(), this.opts.maxDelayMs);
    else this.immediate ??= setImmediate(() => this.flush());
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.immediate) clearImmediate(this.immediate);
    this.immediate = undefined;
    if (!this.pending.length) return;
    const batch = this.pending;
    this.pending = [];
    // Behind events already waiting for space: keep the order.
    if (this.held.length) return this.hold(batch);
    if (this.store(batch) === "full") {
      this.blockedEpisodes++;
      this.log.warn("spool full (policy block): holding events until the controller acknowledges", { count: batch.length, maxHeld: this.opts.maxHeld });
      this.hold(batch);
      this.drain();
    }
  }

  /** Stops waiting for space; whatever is still held is counted as lost (and said). */
  close(): void {
    this.flush();
    this.stopCtl.abort();
    if (this.held.length) {
      this.lostBy.shutdown += this.held.length;
      this.log.error("agent stopping with events held for a full spool; they are lost", { count: this.held.length });
      this.held = [];
    }
  }

  private hold(batch: Pending[]): void {
    const room = Math.max(0, this.opts.maxHeld - this.held.length);
    if (batch.length > room) {
      const over = batch.length - room;
      if (this.lostBy.held_overflow === 0 || over >= this.opts.maxBatch) {
        this.log.error("spool full too long (policy block): events beyond what the agent can hold are lost", { count: over, maxHeld: this.opts.maxHeld });
      }
      this.lostBy.held_overflow += over;
    }
    for (let i = 0; i < Math.min(room, batch.length); i++) this.held.push(batch[i]!);
  }

  /** Appends held events as acks free space, oldest first, until none are left. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    const signal = this.stopCtl.signal;
    const run = async (): Promise<void> => {
      while (this.held.length && !signal.aborted) {
        await this.spool.waitForSpace(signal);
        while (this.held.length && !signal.aborted) {
          const chunk = this.held.slice(0, this.opts.maxBatch);
          if (this.store(chunk) === "full") break;
          this.held.splice(0, chunk.length);
        }
      }
    };
    void run()
      .catch((err: unknown) => this.log.error("pipeline drain failed", { error: String(err) }))
      .finally(() => {
        this.draining = false;
      });
  }

  /** One append. "full" (block policy) stores nothing and loses nothing; an error loses the batch, counted. */
  private store(batch: Pending[]): "ok" | "full" | "error" {
    // The spool may encode an item twice (survivors are renumbered after a drop): keep the last.
    const events: Event[] = [];
    const items: AppendItem[] = batch.map(({ body, time }, i) => ({
      kind: body.$case,
      priority: priorityOf(body),
      encode: (seq: number) => {
        const ev: Event = { seq, eventTimeMs: time, body };
        events[i] = ev;
        return Event.encode(ev).finish();
      },
    }));
    let seqs: number[];
    try {
      seqs = this.spool.append(items);
    } catch (err) {
      if (err instanceof SpoolFullError) return "full";
      // The spool said no (I/O error): the events are lost; say so loudly and count them.
      this.lostBy.spool_error += batch.length;
      this.log.error("spool append failed; events lost", { count: batch.length, error: String(err) });
      return "error";
    }
    this.appended += seqs.filter((s) => s > 0).length;
    for (let i = 0; i < batch.length; i++) {
      const ev = events[i];
      if (!ev || seqs[i]! <= 0 || ev.seq !== seqs[i]) continue;
      for (const l of this.listeners) {
        try {
          l(ev);
        } catch (err) {
          this.log.warn("event listener failed", { error: String(err) });
        }
      }
    }
    return "ok";
  }
}
