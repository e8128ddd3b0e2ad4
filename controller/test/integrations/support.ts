import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import WebSocket from "ws";
import { waitFor } from "../support/wait";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A real HTTP server standing in for webhook receivers: each path answers with the status its
 * handler returns for the n-th request to it (1-based), default 200.
 */
export class Receiver {
  readonly received: Received[] = [];
  private readonly server: Server;
  private readonly counts = new Map<string, number>();
  readonly behaviour = new Map<string, (n: number) => number>();
  url = "";

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = req.url ?? "/";
        const n = (this.counts.get(path) ?? 0) + 1;
        this.counts.set(path, n);
        const status = this.behaviour.get(path)?.(n) ?? 200;
        this.received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : "nope");
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  at(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  hits(path: string): number {
    return this.counts.get(path) ?? 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A stream client that records every JSON message, for assertions that wait on them. */
export class StreamClient {
  readonly messages: Array<Record<string, any>> = [];
  closed?: { code: number; reason: string };
  readonly ws: WebSocket;

  constructor(httpUrl: string, key: string, opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(httpUrl.replace(/^http/, "ws") + "/api/v1/stream", ["vigil.v1"], { headers: { authorization: `Bearer ${key}` }, ...opts });
    this.ws.on("message", (d) => this.messages.push(JSON.parse(d.toString())));
    this.ws.on("close", (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.ws.on("error", () => undefined);
  }

  async open(): Promise<this> {
    await waitFor("stream hello", () => this.messages.some((m) => m.type === "hello"));
    return this;
  }

  send(op: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(op));
  }

  async subscribe(topic: string, extra: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const before = this.messages.length;
    this.send({ op: "subscribe", topic, ...extra });
    return waitFor(`subscribed to ${topic}`, () => this.messages.slice(before).find((m) => m.type === "subscribed" || m.type === "error"));
  }

  /** Stream messages (not control replies) of a topic. */
  data(topic: string): Array<Record<string, any>> {
    return this.messages.filter((m) => typeof m.id === "number" && m.topic === topic);
  }

  of(type: string): Array<Record<string, any>> {
    return this.messages.filter((m) => m.type === type);
  }

  close(): void {
    this.ws.close();
  }
}

/** The value of one Prometheus sample, or undefined when absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
