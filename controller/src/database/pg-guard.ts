import type { DataSource } from "typeorm";

interface PgClientLike {
  query: (...args: unknown[]) => unknown;
  connection?: { stream?: { destroy(): void } };
  __vigilGuarded?: boolean;
}

interface PgPoolLike {
  on(event: "connect", l: (c: PgClientLike) => void): void;
  _clients?: PgClientLike[];
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && /timeout|timed out/i.test(err.message);
}

/**
 * pg's query_timeout rejects the query but keeps the connection, which after a
 * silent network failure is dead: returned to the pool, every later query on it
 * times out too and ingest never recovers. Destroying the socket on a timeout
 * makes the pool drop that client and open a fresh one.
 */
function guard(client: PgClientLike): void {
  if (client.__vigilGuarded) return;
  client.__vigilGuarded = true;
  const original = client.query.bind(client);
  client.query = (...args: unknown[]) => {
    const last = args[args.length - 1];
    if (typeof last === "function") {
      args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
        if (isTimeout(err)) client.connection?.stream?.destroy();
        return (last as (...a: unknown[]) => unknown)(err, ...rest);
      };
      return original(...args);
    }
    const result = original(...args);
    if (result && typeof (result as Promise<unknown>).catch === "function") {
      (result as Promise<unknown>).catch((err) => {
        if (isTimeout(err)) client.connection?.stream?.destroy();
      });
    }
    return result;
  };
}

export function guardPostgresPool(ds: DataSource): void {
  if (ds.options.type !== "postgres") return;
  const pool = (ds.driver as unknown as { master?: PgPoolLike }).master;
  if (!pool) return;
  pool.on("connect", guard);
  for (const c of pool._clients ?? []) guard(c);
}
