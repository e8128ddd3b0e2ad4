import { dirname, resolve } from "node:path";
import { DataSource, type DataSourceOptions } from "typeorm";
import type BetterSqlite3 from "better-sqlite3";
import { entities } from "./entities";
import { migrations } from "./migrations";
import { ownerOnlySqlite } from "../crypto/owner-only";

export interface DataSourceSettings {
  url: string;
  sqliteSynchronous?: "FULL" | "NORMAL";
  /** Tests only: build the schema from entities instead of migrations. */
  synchronize?: boolean;
}

export function dataSourceOptions(s: DataSourceSettings): DataSourceOptions {
  if (s.url.startsWith("sqlite:")) {
    const file = s.url.slice("sqlite:".length);
    const database = file === ":memory:" ? file : resolve(file);
    if (database !== ":memory:") ownerOnlySqlite(database, dirname(database));
    return {
      type: "better-sqlite3",
      database,
      entities,
      migrations,
      synchronize: s.synchronize ?? false,
      prepareDatabase: (db: BetterSqlite3.Database) => {
        db.pragma("journal_mode = WAL");
        db.pragma(`synchronous = ${s.sqliteSynchronous ?? "FULL"}`);
        // Readers (API) and the ingest writer share the file; wait instead of failing on a brief lock.
        db.pragma("busy_timeout = 5000");
        db.pragma("foreign_keys = ON");
      },
    };
  }
  return {
    type: "postgres",
    url: s.url,
    entities,
    migrations,
    synchronize: s.synchronize ?? false,
    // A silent network or server must fail a query, not hang it (and ingest with it) forever:
    // client-side query timeout, TCP keepalive, and a bounded wait for a connection.
    extra: { max: 10, query_timeout: Number(process.env.VIGIL_PG_QUERY_TIMEOUT_MS ?? 30_000), connectionTimeoutMillis: 10_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 },
  };
}

export function createDataSource(s: DataSourceSettings): DataSource {
  return new DataSource(dataSourceOptions(s));
}
