import { connect, type NatsConnection } from "@nats-io/transport-node";

export type BusLog = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;

export interface BusConnectOptions {
  /** One URL or a comma-separated list (nats://host:4222,nats://other:4222). May carry credentials. */
  url: string;
  /** Shown in the server's connection list (`nats server report connections`): which replica this is. */
  name: string;
  log: BusLog;
  /** How long the first connect may take before failing start-up (ms). */
  connectTimeoutMs?: number;
}

/**
 * A URL with any user:password or token replaced by "***", so connection logs never carry a
 * secret. Anything unparsable is shown only by scheme, not echoed.
 */
export function redactUrl(url: string): string {
  return url
    .split(",")
    .map((one) => {
      const s = one.trim();
      try {
        const u = new URL(s.includes("://") ? s : `nats://${s}`);
        if (u.username || u.password) {
          u.username = "***";
          u.password = "";
        }
        return `${u.protocol}//${u.username ? "***@" : ""}${u.host}`;
      } catch {
        return "<unparsable nats url>";
      }
    })
    .join(",");
}

/** The server list for the client: "a,b" → ["a", "b"], blanks dropped. */
export function serverList(url: string): string[] {
  return url
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Connects to NATS and keeps reconnecting forever: a replica that loses NATS for a while must
 * come back by itself, never exit. Status changes are logged with the URL redacted.
 */
export async function connectBus(opts: BusConnectOptions): Promise<NatsConnection> {
  const servers = serverList(opts.url);
  if (servers.length === 0) throw new Error("VIGIL_NATS_URL is empty");
  const shown = redactUrl(opts.url);
  const nc = await connect({
    servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1_000,
    timeout: opts.connectTimeoutMs ?? 10_000,
    pingInterval: 10_000,
    // Otherwise every request and publish-with-ack builds an Error up front to carry its call
    // site into a possible timeout: 6% of a replica's main thread at 1,000 agents (bench:scale
    // with --cpu-prof), for stacks nobody reads (our logs name the operation themselves).
    noAsyncTraces: true,
  });
  opts.log("info", "connected to NATS", { url: shown, name: opts.name });
  void watchStatus(nc, shown, opts.log);
  return nc;
}

async function watchStatus(nc: NatsConnection, shown: string, log: BusLog): Promise<void> {
  try {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") log("warn", "NATS connection lost; reconnecting", { url: shown });
      else if (s.type === "reconnect") log("info", "NATS connection restored", { url: shown });
      else if (s.type === "error") log("error", "NATS error", { url: shown, error: String(s.error) });
    }
  } catch {
    // the status iterator ends with the connection
  }
}

/** Flushes what was published and closes; bounded so a dead server cannot hang shutdown. */
export async function closeBus(nc: NatsConnection, timeoutMs = 5_000): Promise<void> {
  if (nc.isClosed()) return;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
    timer.unref();
  });
  try {
    await Promise.race([nc.drain().catch(() => undefined), timeout]);
  } finally {
    clearTimeout(timer);
    if (!nc.isClosed()) await nc.close().catch(() => undefined);
  }
}
