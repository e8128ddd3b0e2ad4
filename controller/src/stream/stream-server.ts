import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import type { ApiKeys } from "../auth/api-keys";
import type { RateLimiter } from "../auth/rate-limiter";
import type { Principal } from "../http/roles";
import { STREAM_TOPICS, type StreamTopic } from "../integrations/notices";
import { chooseProtocol, keyFromUpgrade } from "./stream-auth";
import { FilterError, parseFilter } from "./stream-filter";
import type { StreamHub, StreamMessage, Subscriber } from "./stream-hub";

export const STREAM_PATH = "/api/v1/stream";

/** Application close codes (4000-4999 are ours by the WebSocket RFC). */
export const CLOSE = { slowConsumer: 4008, keyRevoked: 4003, shutdown: 1001 } as const;

export type DropReason = "slow_consumer" | "heartbeat" | "key_revoked";

export interface StreamServerOptions {
  /** A client whose unsent bytes exceed this is dropped instead of buffered. */
  maxBufferedBytes: number;
  heartbeatMs: number;
  maxClients: number;
  onDrop?: (reason: DropReason) => void;
  log?: (level: "info" | "warn", msg: string, fields: Record<string, unknown>) => void;
}

/** One client frame: subscribe (with optional filter and last-seen id), unsubscribe, or ping. */
interface ClientOp {
  op?: unknown;
  topic?: unknown;
  filter?: unknown;
  lastId?: unknown;
}

/**
 * `/api/v1/stream`: a WebSocket endpoint on the HTTP server Nest listens on, outside Nest's
 * routing (`noServer` + our own upgrade handler), because the API key guard and pipes are HTTP
 * request machinery. Authenticates with an API key of any role before the upgrade is accepted.
 */
export class StreamServer {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<StreamClient>();
  private heartbeat?: NodeJS.Timeout;
  private server?: Server;
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.upgrade(req, socket, head);

  constructor(
    private readonly hub: StreamHub,
    private readonly keys: ApiKeys,
    private readonly failures: RateLimiter,
    private readonly opts: StreamServerOptions,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, handleProtocols: (offered) => chooseProtocol(offered) });
  }

  get clientCount(): number {
    return this.clients.size;
  }

  attach(server: Server): void {
    this.server = server;
    server.on("upgrade", this.onUpgrade);
    this.heartbeat = setInterval(() => this.beat(), this.opts.heartbeatMs);
    this.heartbeat.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    this.server?.off("upgrade", this.onUpgrade);
    for (const c of this.clients) c.ws.close(CLOSE.shutdown, "controller shutting down");
    const deadline = Date.now() + 2_000;
    while (this.clients.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of this.clients) c.ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? "/", "http://vigil");
    if (url.pathname.replace(/\/+$/, "") !== STREAM_PATH) {
      // Another upgrade handler may own this path; answer only if we are the only one.
      if (this.server && this.server.listenerCount("upgrade") === 1) refuse(socket, 404, "no WebSocket endpoint here; the stream is at " + STREAM_PATH);
      return;
    }
    const client = req.socket.remoteAddress ?? "unknown";
    const key = keyFromUpgrade(req, url);
    if (!key) return refuse(socket, 401, "an API key is required: Authorization: Bearer <key>, X-Api-Key, Sec-WebSocket-Protocol vigil.key.<key>, or ?key=");
    // The attempt is charged before scrypt runs and refunded if the key is good, so guessing past the limit costs nothing.
    const cached = this.keys.cached(key);
    if (!cached) {
      const wait = this.failures.take(client);
      if (wait) return refuse(socket, 429, "too many failed API key attempts from this address");
    }
    const principal = cached ?? (await this.keys.verify(key).catch(() => undefined));
    if (!principal) return refuse(socket, 401, "the API key is not valid (unknown, revoked or malformed)");
    if (!cached) this.failures.refund(client);
    if (this.clients.size >= this.opts.maxClients) return refuse(socket, 503, `the stream has its maximum of ${this.opts.maxClients} clients`);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, principal, key));
  }

  private accept(ws: WebSocket, principal: Principal, key: string): void {
    const c = new StreamClient(ws, principal, key, this.hub, this.opts.maxBufferedBytes, (reason) => this.drop(c, reason));
    this.clients.add(c);
    ws.on("close", () => {
      this.clients.delete(c);
      this.hub.unsubscribe(c);
    });
    ws.on("error", () => ws.terminate());
    this.opts.log?.("info", "stream client connected", { keyId: principal.keyId, role: principal.role });
    c.sendControl({ type: "hello", lastId: this.hub.currentId, topics: STREAM_TOPICS, heartbeatMs: this.opts.heartbeatMs });
  }

  private drop(c: StreamClient, reason: DropReason): void {
    if (c.dropped) return;
    c.dropped = true;
    this.hub.unsubscribe(c);
    this.opts.onDrop?.(reason);
    this.opts.log?.("warn", "stream client dropped", { keyId: c.principal.keyId, reason, bufferedBytes: c.ws.bufferedAmount });
    if (reason === "heartbeat") return c.ws.terminate();
    c.ws.close(reason === "slow_consumer" ? CLOSE.slowConsumer : CLOSE.keyRevoked, reason === "slow_consumer" ? `slow consumer: over ${this.opts.maxBufferedBytes} bytes unsent` : "API key revoked");
    // The close frame queues behind the unsent data; a client that reads nothing never sees it.
    setTimeout(() => c.ws.terminate(), 5_000).unref();
  }

  private beat(): void {
    for (const c of this.clients) {
      if (!c.alive) {
        this.drop(c, "heartbeat");
        continue;
      }
      c.alive = false;
      c.ws.ping();
      // A key revoked while connected ends the stream within a heartbeat (verify is cached, not an scrypt each time).
      void this.keys.verify(c.key).then(
        (p) => p || this.drop(c, "key_revoked"),
        () => undefined,
      );
    }
  }
}

class StreamClient implements Subscriber {
  alive = true;
  dropped = false;

  constructor(
    readonly ws: WebSocket,
    readonly principal: Principal,
    readonly key: string,
    private readonly hub: StreamHub,
    private readonly maxBufferedBytes: number,
    private readonly onSlow: (reason: DropReason) => void,
  ) {
    ws.on("pong", () => (this.alive = true));
    ws.on("message", (data: RawData, isBinary: boolean) => this.onMessage(data, isBinary));
  }

  deliver(m: StreamMessage): void {
    this.sendText(m.json);
  }

  sendControl(msg: Record<string, unknown>): void {
    this.sendText(JSON.stringify(msg));
  }

  private sendText(text: string): void {
    if (this.dropped || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > this.maxBufferedBytes) return this.onSlow("slow_consumer");
    this.ws.send(text);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    let op: ClientOp;
    try {
      if (isBinary) throw new FilterError("send JSON text frames");
      const parsed: unknown = JSON.parse(data.toString());
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new FilterError("a message must be a JSON object");
      op = parsed as ClientOp;
      this.handle(op);
    } catch (err) {
      const message = err instanceof FilterError ? err.message : err instanceof SyntaxError ? "a message must be JSON" : "could not handle the message";
      this.sendControl({ type: "error", message });
    }
  }

  private handle(op: ClientOp): void {
    if (op.op === "ping") return this.sendControl({ type: "pong", lastId: this.hub.currentId });
    if (op.op !== "subscribe" && op.op !== "unsubscribe") throw new FilterError(`"op" must be subscribe, unsubscribe or ping`);
    if (typeof op.topic !== "string" || !(STREAM_TOPICS as readonly string[]).includes(op.topic)) throw new FilterError(`"topic" must be one of ${STREAM_TOPICS.join(", ")}`);
    const topic = op.topic as StreamTopic;
    if (op.op === "unsubscribe") {
      this.hub.unsubscribe(this, topic);
      return this.sendControl({ type: "unsubscribed", topic });
    }
    const filter = parseFilter(topic, op.filter);
    if (op.lastId !== undefined && (typeof op.lastId !== "number" || !Number.isSafeInteger(op.lastId) || op.lastId < 0))
      throw new FilterError(`"lastId" must be a non-negative integer: the id of the last message you received`);
    const sub = this.hub.subscribe(this, topic, filter, op.lastId as number | undefined);
    this.sendControl({ type: "subscribed", topic, filter, replayed: sub.replay.length, ...(sub.gap ? { gap: sub.gap } : {}) });
    for (const m of sub.replay) this.deliver(m);
  }
}

function refuse(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ statusCode: status, message, error: STATUS_TEXT[status] ?? "Error" });
  const extra = status === 401 ? 'WWW-Authenticate: Bearer realm="vigil"\r\n' : "";
  socket.end(`HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`);
}

const STATUS_TEXT: Record<number, string> = { 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests", 503: "Service Unavailable" };
