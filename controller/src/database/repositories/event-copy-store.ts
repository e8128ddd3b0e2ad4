import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import type { DataSource } from "typeorm";
import { Pool, type PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { AgentCursor } from "./event-store";
import type { EventRow } from "./event-row";
import { cursorsCoveringRows, eventKey, lockAgentsAndPickNew, type TxQuery } from "./event-dedup";

/** The storage consumer's position in one partition of a stream. */
export interface OffsetMove {
  stream: string;
  part: number;
  /** What the writer read when it took the partition (or last committed): the row must still say this. */
  expected: number;
  next: number;
}

/** The offset row moved under us: another replica owns the partition now. Nothing was committed. */
export class OffsetFenced extends Error {}

const STAGE = "vigil_ingest_stage";
const COLUMNS = "agent_id, seq, type, action, event_time, received_at, summary, data";
/** SQLSTATE unique_violation. */
const UNIQUE_VIOLATION = "23505";

/**
 * Where write()'s time went, summed over every write (ms): waiting for a pooled connection, the
 * offset and agents' row locks with the stored-row lookup, COPY into `events` (through the stage
 * when a write needed it), the cursors and offset, COMMIT. Health shows it: a slow write says which part is slow.
 */
export interface CopyStoreTiming {
  writes: number;
  /** Writes that found a row stored after all and went through the stage (see copyStraightIn). */
  stagedWrites: number;
  connectMs: number;
  lockMs: number;
  copyMs: number;
  cursorMs: number;
  commitMs: number;
}

/**
 * PostgreSQL ingest for distributed mode: the rows not stored yet (in any partition: see
 * event-dedup.ts) streamed into `events` with COPY (pg-copy-streams), in one transaction with the agents' cursors and the partition's stream offset. What was fresh is
 * reported back, so a replay or a redelivery reaches detection zero times.
 */
export class EventCopyStore {
  private readonly pool: Pool;
  readonly timing: CopyStoreTiming = { writes: 0, stagedWrites: 0, connectMs: 0, lockMs: 0, copyMs: 0, cursorMs: 0, commitMs: 0 };

  /**
   * A pool of its own (`connections`, default 4): storage transactions hold a connection for a
   * whole COPY, and must never starve agent registration or the API of the main pool (nor be
   * starved by them).
   */
  constructor(ds: DataSource, connections = 4) {
    if (ds.options.type !== "postgres") throw new Error("the COPY event store needs PostgreSQL");
    const o = ds.options as { url?: string; extra?: Record<string, unknown> };
    this.pool = new Pool({ connectionString: o.url, ...(o.extra ?? {}), max: connections });
    // An idle client's error (server restart) must not crash the process; the next checkout reconnects.
    this.pool.on("error", () => undefined);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async client<T>(work: (c: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let failed: unknown;
    try {
      return await work(client);
    } catch (err) {
      failed = err;
      throw err;
    } finally {
      // A connection that failed mid-COPY may be in any state: destroy it rather than pool it.
      client.release(failed === undefined ? undefined : failed instanceof Error ? failed : new Error(String(failed)));
    }
  }

  /** The partition's committed offset (0 when it was never written), creating its row. */
  async readOffset(stream: string, part: number): Promise<number> {
    return this.client(async (c) => {
      await c.query(`INSERT INTO stream_offsets (stream, part, seq, updated_at) VALUES ($1, $2, 0, $3) ON CONFLICT (stream, part) DO NOTHING`, [stream, part, Date.now()]);
      const rows = await c.query<{ seq: string }>(`SELECT seq FROM stream_offsets WHERE stream = $1 AND part = $2`, [stream, part]);
      return Number(rows.rows[0]?.seq ?? 0);
    });
  }

  /**
   * Moves an offset that guards no rows of its own (detection's: what it has finished with), fenced
   * like write(): throws OffsetFenced when the row does not say `expected` any more.
   */
  async moveOffset(offset: OffsetMove): Promise<void> {
    const res = await this.pool.query(`UPDATE stream_offsets SET seq = $3, updated_at = $4 WHERE stream = $1 AND part = $2 AND seq = $5`, [
      offset.stream,
      offset.part,
      offset.next,
      Date.now(),
      offset.expected,
    ]);
    if (res.rowCount !== 1) throw new OffsetFenced(`offset of ${offset.stream}/${offset.part} is not ${offset.expected} any more`);
  }

  /**
   * Writes rows, cursors and the offset atomically. Returns the keys (`agent\0seq`) of rows that
   * were new. Throws OffsetFenced (rolled back) when the offset is not `expected` any more.
   */
  async write(rows: EventRow[], cursors: AgentCursor[], offset: OffsetMove): Promise<Set<string>> {
    const tm = this.timing;
    let t = performance.now();
    const lap = (k: Exclude<keyof CopyStoreTiming, "writes" | "stagedWrites">) => {
      const now = performance.now();
      tm[k] += now - t;
      t = now;
    };
    return this.client(async (c) => {
      lap("connectMs");
      await c.query("BEGIN");
      try {
        const cur = await c.query<{ seq: string }>(`SELECT seq FROM stream_offsets WHERE stream = $1 AND part = $2 FOR UPDATE`, [offset.stream, offset.part]);
        const at = Number(cur.rows[0]?.seq ?? -1);
        if (at !== offset.expected) throw new OffsetFenced(`offset of ${offset.stream}/${offset.part} is ${at}, expected ${offset.expected}`);
        // Locks the agents' rows (id order: the batched last-seen writes lock in that order too, so the
        // two wait for each other instead of deadlocking) and finds rows stored in any partition.
        const query: TxQuery = async (sql, params) => (await c.query(sql, params)).rows as Array<Record<string, unknown>>;
        const insert = await lockAgentsAndPickNew(
          query,
          rows,
          cursors.map((x) => x.agentId),
        );
        lap("lockMs");
        const fresh = new Set<string>();
        if (insert.length) {
          if (await this.copyStraightIn(c, insert)) for (const r of insert) fresh.add(eventKey(r.agentId, r.seq));
          else for (const k of await this.copyThroughStage(c, insert)) fresh.add(k);
          lap("copyMs");
        }
        if (cursors.length) {
          const cur = cursorsCoveringRows(cursors, rows);
          // A stale message (an older replica's) never takes acked_seq back; last_seq (the mark
          // lockAgentsAndPickNew relies on) always moves up to what was written.
          await c.query(
            `UPDATE agents a SET last_seq = GREATEST(a.last_seq, c.last),
               acked_seq = CASE WHEN a.acked_seq <= c.acked THEN c.acked ELSE a.acked_seq END,
               gaps = CASE WHEN a.acked_seq <= c.acked THEN c.gaps ELSE a.gaps END,
               missing_events = CASE WHEN a.acked_seq <= c.acked THEN c.missing ELSE a.missing_events END
             FROM unnest($1::varchar[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[]) AS c(id, acked, last, gaps, missing)
             WHERE a.id = c.id`,
            [cur.map((x) => x.agentId), cur.map((x) => x.ackedSeq), cur.map((x) => x.lastSeq), cur.map((x) => JSON.stringify(x.gaps)), cur.map((x) => x.missing)],
          );
        }
        await c.query(`UPDATE stream_offsets SET seq = $3, updated_at = $4 WHERE stream = $1 AND part = $2`, [offset.stream, offset.part, offset.next, Date.now()]);
        lap("cursorMs");
        await c.query("COMMIT");
        lap("commitMs");
        tm.writes++;
        return fresh;
      } catch (err) {
        await c.query("ROLLBACK").catch(() => undefined);
        throw err;
      }
    });
  }

  /**
   * The rows (already picked as not stored, under the agents' row locks) COPYed straight into
   * `events`: PostgreSQL parses each row once. The stage and its INSERT … SELECT parsed and wrote
   * every row twice (bench:copy-store, four alternating pairs: 29.6k → 33.7k rows/s on one
   * connection, PostgreSQL's CPU per row 22.2 → 19.5 µs).
   * False when a row was stored after all (the pick's invariant broken: a bug, or rows written
   * outside Vigil): the COPY is undone to its savepoint and the caller takes the stage path, so
   * such a row can never wedge the partition.
   */
  private async copyStraightIn(c: PoolClient, rows: EventRow[]): Promise<boolean> {
    await c.query("SAVEPOINT vigil_copy");
    try {
      await pipeline(Readable.from(copyLines(rows)), c.query(copyFrom(`COPY events (${COLUMNS}) FROM STDIN`)));
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code !== UNIQUE_VIOLATION) throw err;
      await c.query("ROLLBACK TO SAVEPOINT vigil_copy");
      this.timing.stagedWrites++;
      return false;
    }
  }

  /** The rows through a temporary stage into `events`, skipping any already stored: the keys of those newly stored. */
  private async copyThroughStage(c: PoolClient, rows: EventRow[]): Promise<string[]> {
    await c.query(
      `CREATE TEMP TABLE IF NOT EXISTS ${STAGE} (agent_id VARCHAR(128), seq BIGINT, type VARCHAR(16), action VARCHAR(32), event_time BIGINT, received_at BIGINT, summary TEXT, data JSONB) ON COMMIT DELETE ROWS`,
    );
    await pipeline(Readable.from(copyLines(rows)), c.query(copyFrom(`COPY ${STAGE} (${COLUMNS}) FROM STDIN`)));
    const res = await c.query<{ agent_id: string; seq: string }>(
      `INSERT INTO events (${COLUMNS}) SELECT ${COLUMNS} FROM ${STAGE} ON CONFLICT (agent_id, seq, event_time) DO NOTHING RETURNING agent_id, seq`,
    );
    return res.rows.map((r) => eventKey(r.agent_id, Number(r.seq)));
  }
}

/** COPY text format: backslash, tab, newline and carriage return escaped; NUL (which PostgreSQL text cannot hold) removed. */
const NUL = new RegExp(String.fromCharCode(0), "g");
const NEEDS_ESCAPE = new RegExp(`[\\\\\t\n\r${String.fromCharCode(0)}]`);

function esc(s: string): string {
  return NEEDS_ESCAPE.test(s) ? s.replace(NUL, "").replace(/\\/g, "\\\\").replace(/\t/g, "\\t").replace(/\n/g, "\\n").replace(/\r/g, "\\r") : s;
}

/** JSON text with \u0000 escapes, which jsonb refuses: the NULs dropped so one event cannot wedge a partition. */
function jsonWithoutNul(data: string): string {
  if (!data.includes("\\u0000")) return data;
  return JSON.stringify(JSON.parse(data, (_k, v: unknown) => (typeof v === "string" ? v.replace(NUL, "") : v)));
}

function* copyLines(rows: EventRow[]): Generator<string> {
  let chunk = "";
  for (const r of rows) {
    chunk += `${esc(r.agentId)}\t${r.seq}\t${esc(r.type)}\t${esc(r.action)}\t${r.eventTime}\t${r.receivedAt}\t${esc(r.summary)}\t${esc(jsonWithoutNul(r.data))}\n`;
    if (chunk.length > 256 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}
