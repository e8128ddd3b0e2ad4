import { connect, createServer, type Server, type Socket } from "node:net";

export type ProxyMode = "pass" | "refuse" | "blackhole";

/**
 * A TCP proxy on loopback that a test controls, to partition two processes
 * without touching the host's firewall:
 * - `pass`: forwards both ways;
 * - `refuse`: resets every open connection and every new one at once (a peer
 *   that is gone: the client sees errors and backs off);
 * - `blackhole`: open connections stay open but nothing gets through either
 *   way, and new ones are accepted and then ignored (a cable pulled somewhere
 *   in between: only timeouts tell).
 */
export class TcpProxy {
  private server?: Server;
  private readonly pairs = new Set<{ client: Socket; upstream?: Socket }>();
  private mode: ProxyMode = "pass";
  /** Connections accepted since start, in any mode. */
  accepted = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(port = 0): Promise<this> {
    const server = createServer((client) => this.onClient(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get current(): ProxyMode {
    return this.mode;
  }

  setMode(mode: ProxyMode): void {
    this.mode = mode;
    if (mode === "refuse") for (const p of [...this.pairs]) this.drop(p);
    if (mode === "blackhole") {
      for (const p of this.pairs) {
        p.client.unpipe();
        p.upstream?.unpipe();
        // Read and discard, so the kernel buffers never fill and nothing is forwarded.
        p.client.on("data", () => undefined);
        p.upstream?.on("data", () => undefined);
      }
    }
  }

  /** Closes every connection; `pass` afterwards makes new ones work again. */
  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.drop(p);
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private onClient(client: Socket): void {
    this.accepted++;
    client.on("error", () => undefined);
    if (this.mode === "refuse") {
      client.resetAndDestroy();
      return;
    }
    const pair: { client: Socket; upstream?: Socket } = { client };
    this.pairs.add(pair);
    client.on("close", () => this.drop(pair));
    if (this.mode === "blackhole") {
      client.on("data", () => undefined);
      return;
    }
    const upstream = connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on("error", () => this.drop(pair));
    upstream.on("close", () => this.drop(pair));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  private drop(p: { client: Socket; upstream?: Socket }): void {
    if (!this.pairs.delete(p)) return;
    p.client.resetAndDestroy();
    p.upstream?.resetAndDestroy();
  }
}
