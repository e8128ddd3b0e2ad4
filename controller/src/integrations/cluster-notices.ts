import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { STREAM_TOPICS, type Notice, type StreamTopic } from "./notices";

export interface ClusterNoticesOptions {
  /** Notices per message at most (a burst of stored events goes out in a few messages, not thousands). */
  maxBatch: number;
  /** How often each replica says whether its clients watch raw events; an interest not repeated for 3 beats lapses. */
  interestBeatMs: number;
  onRejected?: (reason: string) => void;
  onError?: (err: unknown) => void;
}

export const DEFAULT_CLUSTER_NOTICES_OPTIONS: ClusterNoticesOptions = { maxBatch: 500, interestBeatMs: 2_000 };

const MAX_MESSAGE_BYTES = 1024 * 1024 - 4096;
const MAX_NOTICES = 2_000;
const MAX_DATA_DEPTH = 32;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TOPICS = new Set<string>(STREAM_TOPICS);

interface WireNotice {
  topic: StreamTopic;
  type: string;
  time: number;
  data: Record<string, unknown>;
  agentId?: string;
  score?: number;
  tags?: string[];
  eventType?: string;
}

/**
 * The live stream across replicas: each notice is made once, on the replica where its change
 * was committed (a result on the replica holding the agent, an alert where detection ran), and
 * every other replica's hub gets it over core NATS, so a WebSocket client on any replica sees
 * each item once. Webhooks are not fanned out: the replica that made the notice queued its
 * deliveries in the shared outbox, where one worker claims each.
 *
 * Raw events are the volume: they are serialized and sent only while some other replica has a
 * client on the events topic (each replica announces that interest every `interestBeatMs`).
 * Notices are batched per tick. What arrives is checked (sizes, shape, depth) before it reaches
 * a client; a bad message is counted and dropped.
 */
export class ClusterNotices {
  private readonly subs: Subscription[] = [];
  private queue: WireNotice[] = [];
  private flushScheduled = false;
  private timer?: NodeJS.Timeout;
  /** Other replicas with a client on the events topic: replica → when it last said so. */
  private readonly eventsInterest = new Map<string, number>();
  private readonly opts: ClusterNoticesOptions;
  readonly counts = { sent: 0, received: 0, rejected: 0, eventsSkipped: 0 };

  constructor(
    private readonly nc: Pick<NatsConnection, "publish" | "subscribe">,
    private readonly prefix: string,
    private readonly replicaId: string,
    opts: Partial<ClusterNoticesOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.opts = { ...DEFAULT_CLUSTER_NOTICES_OPTIONS, ...opts };
  }

  /** Hands notices from other replicas to `deliver`; `localEventWatchers` is this replica's events subscriber count. */
  start(deliver: (n: Notice) => void, localEventWatchers: () => number): void {
    this.subs.push(
      this.nc.subscribe(`${this.prefix}.notices.batch`, { callback: (err, msg) => (err ? this.opts.onError?.(err) : this.receive(msg, deliver)) }),
      this.nc.subscribe(`${this.prefix}.notices.interest`, { callback: (err, msg) => (err ? this.opts.onError?.(err) : this.interest(msg)) }),
    );
    let announced = -1;
    const beat = (force: boolean) => {
      const watching = localEventWatchers() > 0 ? 1 : 0;
      if (!force && watching === announced) return;
      announced = watching;
      this.send(`${this.prefix}.notices.interest`, JSON.stringify({ v: 1, r: this.replicaId, events: watching }));
    };
    beat(true);
    // A client subscribing to events is announced within a quarter beat; the full beat keeps it alive.
    let tick = 0;
    this.timer = setInterval(
      () => {
        tick = (tick + 1) % 4;
        beat(tick === 0);
      },
      Math.max(50, Math.floor(this.opts.interestBeatMs / 4)),
    );
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.flush();
    for (const s of this.subs) s.unsubscribe();
    this.subs.length = 0;
  }

  /** A notice made on this replica: queued for the others (raw events only if someone watches). */
  publish(n: Notice): void {
    if (n.topic === "notify" || !this.subs.length) return;
    if (n.topic === "events" && !this.othersWatchEvents()) {
      this.counts.eventsSkipped++;
      return;
    }
    this.queue.push({
      topic: n.topic,
      type: n.type,
      time: n.time,
      data: n.data,
      ...(n.agentId !== undefined ? { agentId: n.agentId } : {}),
      ...(n.score !== undefined ? { score: n.score } : {}),
      ...(n.tags ? { tags: n.tags } : {}),
      ...(n.eventType !== undefined ? { eventType: n.eventType } : {}),
    });
    if (this.queue.length >= this.opts.maxBatch) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private othersWatchEvents(): boolean {
    const cutoff = this.now() - 3 * this.opts.interestBeatMs;
    for (const [r, at] of this.eventsInterest) {
      if (at >= cutoff) return true;
      this.eventsInterest.delete(r);
    }
    return false;
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (!batch.length) return;
    const text = JSON.stringify({ v: 1, r: this.replicaId, n: batch });
    if (Buffer.byteLength(text) <= MAX_MESSAGE_BYTES) {
      this.send(`${this.prefix}.notices.batch`, text);
      this.counts.sent += batch.length;
      return;
    }
    // Too big for one message: halves, down to one notice; a single notice too big is not sent.
    if (batch.length === 1) {
      this.opts.onError?.(new Error(`a ${batch[0]!.type} notice is over ${MAX_MESSAGE_BYTES} bytes; not sent to other replicas`));
      return;
    }
    const half = Math.ceil(batch.length / 2);
    for (const part of [batch.slice(0, half), batch.slice(half)]) {
      this.queue = part;
      this.flush();
    }
  }

  private send(subject: string, text: string): void {
    try {
      this.nc.publish(subject, text);
    } catch (err) {
      // NATS away: the live stream is best-effort across replicas (REST has the record); the local hub still has it.
      this.opts.onError?.(err);
    }
  }

  private interest(msg: Msg): void {
    const m = parseJson(msg.data, 1024) as { v?: unknown; r?: unknown; events?: unknown } | undefined;
    if (!m || m.v !== 1 || typeof m.r !== "string" || !ID.test(m.r) || (m.events !== 0 && m.events !== 1)) return this.reject("bad interest message");
    if (m.r === this.replicaId) return;
    if (m.events) this.eventsInterest.set(m.r, this.now());
    else this.eventsInterest.delete(m.r);
  }

  private receive(msg: Msg, deliver: (n: Notice) => void): void {
    const parsed = parseNoticeBatch(msg.data);
    if (typeof parsed === "string") return this.reject(parsed);
    if (parsed.replica === this.replicaId) return;
    this.counts.received += parsed.notices.length;
    for (const n of parsed.notices) deliver(n);
  }

  private reject(reason: string): void {
    this.counts.rejected++;
    this.opts.onRejected?.(reason);
  }
}

function parseJson(data: Uint8Array, maxBytes: number): unknown {
  if (data.byteLength > maxBytes) return undefined;
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    return undefined;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** A batch of notices read back from NATS, checked; a string says why it was refused. */
export function parseNoticeBatch(data: Uint8Array): { replica: string; notices: Notice[] } | string {
  if (data.byteLength > MAX_MESSAGE_BYTES) return "too large";
  const m = parseJson(data, MAX_MESSAGE_BYTES);
  if (!isObject(m)) return "not a JSON object";
  if (m.v !== 1) return "unknown version";
  if (typeof m.r !== "string" || !ID.test(m.r)) return "bad replica id";
  if (!Array.isArray(m.n) || m.n.length > MAX_NOTICES) return "bad notice list";
  const notices: Notice[] = [];
  for (const x of m.n as unknown[]) {
    const n = checkNotice(x);
    if (typeof n === "string") return n;
    notices.push(n);
  }
  return { replica: m.r, notices };
}

function checkNotice(x: unknown): Notice | string {
  if (!isObject(x)) return "a notice is not an object";
  if (typeof x.topic !== "string" || !TOPICS.has(x.topic)) return "bad topic";
  if (typeof x.type !== "string" || x.type.length < 1 || x.type.length > 64) return "bad type";
  if (typeof x.time !== "number" || !Number.isSafeInteger(x.time) || x.time < 0) return "bad time";
  if (!isObject(x.data) || depth(x.data, 0) > MAX_DATA_DEPTH) return "bad data";
  if (x.agentId !== undefined && (typeof x.agentId !== "string" || !ID.test(x.agentId))) return "bad agent id";
  if (x.score !== undefined && (typeof x.score !== "number" || !Number.isFinite(x.score))) return "bad score";
  if (x.tags !== undefined && (!Array.isArray(x.tags) || x.tags.length > 64 || !x.tags.every((t) => typeof t === "string" && t.length <= 256))) return "bad tags";
  if (x.eventType !== undefined && (typeof x.eventType !== "string" || x.eventType.length > 64)) return "bad event type";
  return {
    topic: x.topic as StreamTopic,
    type: x.type,
    time: x.time,
    data: x.data,
    ...(x.agentId !== undefined ? { agentId: x.agentId } : {}),
    ...(x.score !== undefined ? { score: x.score } : {}),
    ...(x.tags !== undefined ? { tags: x.tags as string[] } : {}),
    ...(x.eventType !== undefined ? { eventType: x.eventType } : {}),
  };
}

/** Nesting depth of parsed JSON (iterative: a hostile depth cannot overflow the stack). */
function depth(root: unknown, start: number): number {
  let max = start;
  const stack: Array<[unknown, number]> = [[root, start + 1]];
  while (stack.length) {
    const [v, d] = stack.pop()!;
    if (d > max) max = d;
    if (max > MAX_DATA_DEPTH) return max;
    if (v && typeof v === "object") for (const c of Object.values(v)) if (c && typeof c === "object") stack.push([c, d + 1]);
  }
  return max;
}
