import type { DataSource } from "typeorm";
import type BetterSqlite3 from "better-sqlite3";
import { dialectOf, type Dialect } from "./dialect";

/** The part of a node-postgres client the pipelined transaction uses. */
interface PipelinedClient {
  pipeline: boolean;
  query(text: string, values: unknown[]): Promise<unknown>;
}

/** One statement written with `?` placeholders; they become `$n` on PostgreSQL. */
export interface Stmt {
  sql: string;
  params: unknown[];
}

/**
 * PostgreSQL's answers that mean "this transaction lost a race, nothing of it was applied, run it
 * again": deadlock_detected and serialization_failure.
 */
const RETRYABLE = new Set(["40P01", "40001"]);
/** Attempts of one transaction before its error is passed on (each after a short random pause). */
const MAX_ATTEMPTS = 6;

/** The SQLSTATE of a pg error, whether thrown by pg itself or wrapped by TypeORM (QueryFailedError.driverError). */
function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === "string" ? code : undefined;
}

/** Whether PostgreSQL rolled the transaction back whole because it lost a race (deadlock, serialization): running it again is safe. */
export function lostRace(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && RETRYABLE.has(state);
}

/**
 * Raw SQL for the detection write path: a chunk's alerts, cases, risks and baselines go in one
 * transaction. On SQLite the transaction runs synchronously on better-sqlite3's connection, so it
 * can never interleave with the ingest writer's own synchronous transaction (an async TypeORM
 * transaction could, and the events insert would then ride on, and roll back with, ours).
 *
 * On PostgreSQL several replicas write the same rows (an entity's risk, a case, a baseline) from
 * their own chunks, so two transactions can deadlock; PostgreSQL then rolls one back whole. That
 * transaction is run again (the statements carry absolute values computed before it, so a second
 * run writes what the first would have), instead of losing a chunk's alerts.
 */
export class SqlBatch {
  readonly dialect: Dialect;
  private readonly prepared = new Map<string, BetterSqlite3.Statement>();
  /** Transactions run again after a deadlock or serialization failure (PostgreSQL). */
  readonly stats = { retries: 0 };

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
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runPg(stmts);
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !lostRace(err)) throw err;
        this.stats.retries++;
        // A random pause, growing with the attempt, so the two losers of a race do not meet again.
        await new Promise((r) => setTimeout(r, Math.random() * 25 * attempt));
      }
    }
  }

  /**
   * One transaction as one pipeline: BEGIN, the statements and COMMIT are written together and
   * PostgreSQL answers them in order, so the transaction costs one round trip instead of one per
   * statement. That matters beyond speed: in distributed mode replicas' transactions write shared
   * rows (an entity's risk, a case), and a transaction waiting on its own round trips holds those
   * row locks for all of them (measured under bench:scale: most of detection's time).
   *
   * A failing statement aborts the transaction; PostgreSQL then refuses the statements after it,
   * answers COMMIT with a rollback, and the first error (with its SQLSTATE, for lostRace) is thrown.
   */
  private async runPg(stmts: readonly Stmt[]): Promise<void> {
    const qr = this.ds.createQueryRunner();
    try {
      const client = (await qr.connect()) as PipelinedClient;
      const texts = [{ sql: "BEGIN", params: [] as unknown[] }, ...stmts.map((s) => ({ sql: toPg(s.sql), params: s.params })), { sql: "COMMIT", params: [] as unknown[] }];
      // node-postgres writes queued queries without waiting for answers while `pipeline` is set;
      // this client is ours (taken from the pool) until every answer is in, then it is set back.
      client.pipeline = true;
      let results: PromiseSettledResult<unknown>[];
      try {
        results = await Promise.allSettled(texts.map((t) => client.query(t.sql, t.params)));
      } finally {
        client.pipeline = false;
      }
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) {
        // COMMIT after a failed statement was a rollback; if COMMIT itself failed there is nothing open either.
        throw failed.reason;
      }
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
