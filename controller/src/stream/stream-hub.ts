import { STREAM_TOPICS, type Notice, type StreamTopic } from "../integrations/notices";
import { RingBuffer } from "./ring-buffer";
import { matches, type StreamFilter } from "./stream-filter";

/**
 * A message as the stream stores and sends it: serialized at most once, however many clients get
 * it, and not at all when nobody does (most raw events while no one watches the events topic).
 */
export class StreamMessage {
  private text?: string;

  constructor(
    readonly id: number,
    readonly notice: Notice,
  ) {}

  get json(): string {
    const n = this.notice;
    this.text ??= JSON.stringify({ id: this.id, topic: n.topic, type: n.type, time: new Date(n.time).toISOString(), data: n.data });
    return this.text;
  }
}

export interface Subscriber {
  deliver(m: StreamMessage): void;
}

export interface Subscription {
  /** Buffered messages after the client's last-seen id that pass its filter, oldest first. */
  replay: StreamMessage[];
  /** Set when messages after lastId are no longer buffered: the client must catch up another way. */
  gap?: { lastId: number; oldestBufferedId: number | null; message: string };
}

/**
 * The live stream's core, independent of the transport: numbers every message, keeps the recent
 * ones per topic for resuming clients, and fans out to the subscribers whose filter passes.
 *
 * Ids are one sequence across topics (a client resumes all its topics from one number) and start
 * at the clock in microseconds, so they keep increasing across controller restarts; a client
 * resuming from before a restart is told it has a gap, since the buffers start empty.
 */
export class StreamHub {
  private lastId: number;
  private readonly buffers = new Map<StreamTopic, RingBuffer<StreamMessage>>();
  private readonly subs = new Map<StreamTopic, Map<Subscriber, StreamFilter>>();
  readonly published: Record<StreamTopic, number> = { alerts: 0, cases: 0, commands: 0, agents: 0, events: 0 };

  constructor(capacity: Partial<Record<StreamTopic, number>> = {}, now: () => number = Date.now) {
    this.lastId = now() * 1000;
    for (const t of STREAM_TOPICS) {
      this.buffers.set(t, new RingBuffer<StreamMessage>(capacity[t] ?? (t === "events" ? 5000 : 1000), this.lastId));
      this.subs.set(t, new Map());
    }
  }

  get currentId(): number {
    return this.lastId;
  }

  publish(notice: Notice): void {
    if (notice.topic === "notify") return;
    const topic = notice.topic;
    const id = ++this.lastId;
    const m = new StreamMessage(id, notice);
    this.buffers.get(topic)!.push(m);
    this.published[topic]++;
    for (const [sub, filter] of this.subs.get(topic)!) if (matches(filter, notice)) sub.deliver(m);
  }

  /** Subscribes (or re-filters) a client; with lastId, returns what it missed. */
  subscribe(sub: Subscriber, topic: StreamTopic, filter: StreamFilter, lastId?: number): Subscription {
    this.subs.get(topic)!.set(sub, filter);
    if (lastId === undefined) return { replay: [] };
    const buf = this.buffers.get(topic)!;
    const replay = buf.after(lastId).filter((m) => matches(filter, m.notice));
    // Older than what the buffer still holds, or from the future (another controller, a reset clock).
    if (lastId < buf.evictedUpTo || lastId > this.lastId) {
      return {
        replay,
        gap: {
          lastId,
          oldestBufferedId: buf.after(-1)[0]?.id ?? null,
          message: `too far behind: messages after ${lastId} are no longer buffered; re-read the REST API for the missed interval, then continue with the messages that follow`,
        },
      };
    }
    return { replay };
  }

  unsubscribe(sub: Subscriber, topic?: StreamTopic): void {
    for (const t of topic ? [topic] : STREAM_TOPICS) this.subs.get(t)!.delete(sub);
  }

  subscriberCount(topic: StreamTopic): number {
    return this.subs.get(topic)!.size;
  }
}
