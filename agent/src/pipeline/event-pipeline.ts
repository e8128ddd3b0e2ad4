import { Event } from "@vigil/proto";
import type { EventBody, EventSink } from "../sensors/sensor";
import type { AppendItem, DiskSpool } from "../spool";
import { Priority } from "../spool";
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
 * Collects sensor output and appends it to the spool in one write, so the disk sees batches, not
 * one syscall per event. A batch is what one turn of the event loop produced (flushed at
 * setImmediate; a burst of kernel records read in one turn is one write), or what `maxDelayMs`
 * collects when set: waiting 20 ms was most of the time from an exec to the local policy's
 * action. Listeners (local detection) see each event with its final seq once it is on disk.
 */
export class EventPipeline implements EventSink {
  private pending: Array<{ body: EventBody; time: number }> = [];
  private timer?: NodeJS.Timeout;
  private immediate?: NodeJS.Immediate;
  private listeners: StoredEventListener[] = [];
  appended = 0;
  failures = 0;

  constructor(
    private readonly spool: DiskSpool,
    private readonly log: Log,
    /** maxDelayMs 0: flush at the end of the current event-loop turn. */
    private readonly opts: { maxBatch: number; maxDelayMs: number } = { maxBatch: 256, maxDelayMs: 0 },
  ) {}

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
    const events: Event[] = [];
    const items: AppendItem[] = batch.map(({ body, time }) => ({
      kind: body.$case,
      priority: priorityOf(body),
      encode: (seq: number) => {
        const ev: Event = { seq, eventTimeMs: time, body };
        events.push(ev);
        return Event.encode(ev).finish();
      },
    }));
    let seqs: number[];
    try {
      seqs = this.spool.append(items);
    } catch (err) {
      // The spool said no (I/O error, or full under the "block" policy): the events are lost; say so loudly and count them.
      this.failures += batch.length;
      this.log.error("spool append failed; events lost", { count: batch.length, error: String(err) });
      return;
    }
    this.appended += seqs.filter((s) => s > 0).length;
    for (const ev of events) {
      if (!seqs.includes(ev.seq)) continue;
      for (const l of this.listeners) {
        try {
          l(ev);
        } catch (err) {
          this.log.warn("event listener failed", { error: String(err) });
        }
      }
    }
  }
}
