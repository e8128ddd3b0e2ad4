/**
 * Live updates. The controller's websocket stream (/api/v1/stream) says *that* something
 * changed on a topic; views then refetch what they show, so a missed or reordered message can
 * never leave the screen wrong, only late. When the stream is unavailable (not deployed, a proxy
 * that drops upgrades, a network blip) the feed falls back to polling and keeps retrying the
 * socket with backoff.
 */
export type Topic = "alerts" | "cases" | "commands" | "agents";
export type LiveMode = "connecting" | "live" | "polling";

export interface LiveOptions {
  pollMs?: number;
  /** Even when live, refresh this often: ages ("last seen 5s ago") and anything a message missed. */
  safetyMs?: number;
  retryMaxMs?: number;
  /** Test hook and escape hatch: never try the socket. */
  socket?: boolean;
}

type Listener = { topics: ReadonlySet<Topic>; fn: () => void; timer?: ReturnType<typeof setTimeout> };

const TOPICS: Topic[] = ["alerts", "cases", "commands", "agents"];

export class LiveFeed {
  private readonly listeners = new Set<Listener>();
  private readonly modeListeners = new Set<(m: LiveMode) => void>();
  private ws?: WebSocket;
  private mode: LiveMode = "connecting";
  private pollTimer?: ReturnType<typeof setInterval>;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private retryMs = 2000;
  private stopped = false;
  private readonly opts: Required<LiveOptions>;

  constructor(
    private readonly key: string,
    opts: LiveOptions = {},
  ) {
    this.opts = { pollMs: 5000, safetyMs: 30_000, retryMaxMs: 60_000, socket: true, ...opts };
  }

  start(): void {
    this.setPolling(this.opts.pollMs);
    if (this.opts.socket) this.connect();
    else this.setMode("polling");
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    this.ws?.close(1000, "signed out");
    for (const l of this.listeners) clearTimeout(l.timer);
  }

  get current(): LiveMode {
    return this.mode;
  }

  onMode(fn: (m: LiveMode) => void): () => void {
    this.modeListeners.add(fn);
    return () => this.modeListeners.delete(fn);
  }

  /** `fn` runs (debounced) when any of `topics` changes, and on every poll. */
  subscribe(topics: Topic[], fn: () => void): () => void {
    const l: Listener = { topics: new Set(topics), fn };
    this.listeners.add(l);
    return () => {
      clearTimeout(l.timer);
      this.listeners.delete(l);
    };
  }

  private notify(topics: Iterable<Topic>): void {
    const changed = new Set(topics);
    for (const l of this.listeners) {
      if (![...changed].some((t) => l.topics.has(t))) continue;
      // A burst of messages (a brute force raising alerts) costs one refetch, not one per message.
      clearTimeout(l.timer);
      l.timer = setTimeout(l.fn, 250);
    }
  }

  private setMode(m: LiveMode): void {
    if (m === this.mode) return;
    this.mode = m;
    for (const fn of this.modeListeners) fn(m);
  }

  private setPolling(everyMs: number): void {
    clearInterval(this.pollTimer);
    this.pollTimer = setInterval(() => {
      // A hidden tab does not need fresh data; it catches up when shown (visibilitychange below).
      if (document.visibilityState === "visible") this.notify(TOPICS);
    }, everyMs);
  }

  private connect(): void {
    if (this.stopped) return;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/stream`;
    let opened = false;
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, streamProtocols(this.key));
    } catch {
      this.fallBack();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      opened = true;
      for (const topic of TOPICS) ws.send(JSON.stringify({ op: "subscribe", topic }));
    };
    ws.onmessage = (ev) => {
      const topic = topicOf(ev.data);
      if (topic === "ready") {
        this.retryMs = 2000;
        this.setPolling(this.opts.safetyMs);
        this.setMode("live");
        // Whatever changed while we were polling or reconnecting.
        this.notify(TOPICS);
      } else if (topic) {
        if (this.mode !== "live") {
          this.setPolling(this.opts.safetyMs);
          this.setMode("live");
        }
        this.notify([topic]);
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (!opened) this.retryMs = Math.min(this.retryMs * 2, this.opts.retryMaxMs);
      this.fallBack();
    };
  }

  private fallBack(): void {
    if (this.stopped) return;
    this.setPolling(this.opts.pollMs);
    this.setMode("polling");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
  }
}

/**
 * Browsers cannot set an Authorization header on a websocket; the key travels as a
 * subprotocol entry ("vigil.key.<key>") next to the real one ("vigil.v1", which the server
 * picks), keeping it out of URLs and proxy access logs (controller/src/stream/stream-auth.ts).
 */
function streamProtocols(key: string): string[] {
  return ["vigil.v1", `vigil.key.${key}`];
}

/**
 * The topic a stream message is about, or "ready" once the server confirmed a subscription.
 * Notices are {id, topic, type, time, data}; control frames ({type: "hello" | "subscribed" |
 * "error" | "pong"}) have no id.
 */
function topicOf(data: unknown): Topic | "ready" | undefined {
  if (typeof data !== "string") return undefined;
  try {
    const m = JSON.parse(data) as { id?: unknown; type?: unknown; topic?: unknown };
    if (m.type === "subscribed") return "ready";
    if (typeof m.id !== "number") return undefined;
    return TOPICS.find((t) => t === m.topic);
  } catch {
    return undefined;
  }
}

/** Catch up when a hidden tab comes back. */
export function refreshOnShow(feed: LiveFeed, fn: () => void): () => void {
  const on = () => {
    if (document.visibilityState === "visible" && feed.current !== "connecting") fn();
  };
  document.addEventListener("visibilitychange", on);
  return () => document.removeEventListener("visibilitychange", on);
}
