import type { DataSource } from "typeorm";
import type BetterSqlite3 from "better-sqlite3";
import { dialectOf, type Dialect } from "./dialect";

/** One statement written with `?` placeholders; they become `$n` on PostgreSQL. */
export interface Stmt {
  sql: string;
  params: unknown[];
}

/**
 * Raw SQL for the detection write path: a chunk's alerts, cases, risks and baselines go in one
 * transaction. On SQLite the transaction runs synchronously on better-sqlite3's connection, so it
 * can never interleave with the ingest writer's own synchronous transaction (an async TypeORM
 * transaction could, and the events insert would then ride on, and roll back with, ours).
 */
export class SqlBatch {
  readonly dialect: Dialect;
  private readonly prepared = new Map<string, BetterSqlite3.Statement>();

  constructor(private readonly ds: DataSource) {
    this.dialect = dialectOf(ds);
  }

  async run(stmts: readonly Stmt[]): Promise<void> {
    if (stmts.length === 0) return;
    if (this.dialect === "sqlite") {
      const db = this.sqlite();
      db.transaction(() => {
        for (const s of stmts) this.stmt(s.sql).run(...s.params.map(sqliteValue));
      }).immediate();
      return;
    }
    const qr = this.ds.createQueryRunner();
    try {
      await qr.startTransaction();
      for (const s of stmts) await qr.query(toPg(s.sql), s.params);
      await qr.commitTransaction();
    } catch (err) {
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      throw err;
    } finally {
      await qr.release();
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    if (this.dialect === "sqlite") return this.stmt(sql).all(...params.map(sqliteValue)) as T[];
    return (await this.ds.query(toPg(sql), params)) as T[];
  }

  private sqlite(): BetterSqlite3.Database {
    return (this.ds.driver as unknown as { databaseConnection: BetterSqlite3.Database }).databaseConnection;
  }

  private stmt(sql: string): BetterSqlite3.Statement {
    let s = this.prepared.get(sql);
    if (!s) {
      // Statements are written in code; only IN-lists vary in length, so a small cap suffices.
      if (this.prepared.size >= 500) this.prepared.clear();
      s = this.sqlite().prepare(sql);
      this.prepared.set(sql, s);
    }
    return s;
  }
}

function sqliteValue(v: unknown): unknown {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v === undefined) return null;
  return v;
}

function toPg(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** `IN (?, ?, ...)` for a list. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => "?").join(", ");
}
