import type { DataSource, QueryRunner } from "typeorm";

export const DAY_MS = 86_400_000;

/** Where rows land whose event time has no day partition (hostile clocks, maintenance behind). */
export const DEFAULT_PARTITION = "events_default";

/** One day's partition of the events table: `events_pYYYYMMDD` (UTC), holding [lo, lo + 1 day). */
export function dayPartitionName(lo: number): string {
  return `events_p${new Date(lo).toISOString().slice(0, 10).replace(/-/g, "")}`;
}

/** The UTC midnight at or before `t` (ms). */
export function dayStart(t: number): number {
  return Math.floor(t / DAY_MS) * DAY_MS;
}

export interface DayPartition {
  name: string;
  /** Range [lo, hi) of event_time (ms). */
  lo: number;
  hi: number;
  /** pg_class.reltuples: PostgreSQL's estimate (-1 before the table was first analyzed). */
  estimatedRows: number;
}

export interface PartitionDrop {
  partitions: number;
  /** Rows in them: PostgreSQL's estimate, counted exactly for a partition never analyzed. */
  rows: number;
  /** Drops that failed (lock not granted in time): retried next round. */
  failed: number;
}

/** Only one replica maintains partitions at a time; the others skip the round. */
const MAINTENANCE_LOCK = 0x76_69_67_69_6c_70;
/**
 * How long one DDL statement waits for ingest's locks. While DDL waits for its ACCESS EXCLUSIVE
 * lock on `events`, every insert queues behind it, so the wait is what a drop can cost ingest:
 * short waits, tried a few times apart, instead of one long one (5 s before, which stalled COPY
 * for up to 5 s whenever a long transaction held the table).
 */
const LOCK_TIMEOUT_MS = 250;
/** Attempts per statement in one round, and the pause between them (ingest runs in the gaps). */
const LOCK_ATTEMPTS = 4;
const LOCK_RETRY_PAUSE_MS = 750;

/**
 * PostgreSQL's events table is partitioned by day of event_time (migration
 * PartitionedEvents1733600000000). This keeps the days around "now" created ahead of the
 * events that will land in them and drops days wholly older than the retention cut-off.
 * Which days exist is decided by the controller's own clock, never by event data: a hostile
 * host time cannot make a partition; it lands in DEFAULT, where retention deletes row by row.
 */
export class EventPartitions {
  /**
   * `backMs`/`aheadMs`: how far before and after now event times can be (the clock-skew
   * tolerance: sanitizeBatch stores anything further at the receive time), plus margin ahead so
   * maintenance can stop for a while before rows fall into DEFAULT.
   */
  constructor(
    private readonly ds: DataSource,
    private readonly window: { backMs: number; aheadMs: number },
  ) {
    if (ds.options.type !== "postgres") throw new Error("event partitions exist on PostgreSQL only");
  }

  /** The day partitions (not DEFAULT), oldest first. */
  async list(q?: QueryRunner): Promise<DayPartition[]> {
    const rows = (await (q ?? this.ds).query(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, c.reltuples AS est
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`,
    )) as Array<{ name: string; bound: string; est: number | string }>;
    const out: DayPartition[] = [];
    for (const r of rows) {
      const m = /FROM \('?(-?\d+)'?\) TO \('?(-?\d+)'?\)/.exec(r.bound);
      if (m) out.push({ name: r.name, lo: Number(m[1]), hi: Number(m[2]), estimatedRows: Number(r.est) });
    }
    return out.sort((a, b) => a.lo - b.lo);
  }

  /**
   * Creates the missing day partitions from (now - back) to (now + ahead), none wholly older
   * than `cutoff` (they would be dropped at once). Returns how many were created; 0 when another
   * replica holds the maintenance lock.
   */
  async ensure(now: number, cutoff = -Infinity): Promise<number> {
    return (await this.maintain((q) => this.createDays(q, now, cutoff))) ?? 0;
  }

  /** Drops every day partition whose whole range is older than `cutoff` (DROP detaches it first). */
  async dropOlderThan(cutoff: number): Promise<PartitionDrop> {
    return (await this.maintain((q) => this.dropDays(q, cutoff))) ?? { partitions: 0, rows: 0, failed: 0 };
  }

  private async createDays(q: QueryRunner, now: number, cutoff: number): Promise<number> {
    const have = new Set((await this.list(q)).map((p) => p.lo));
    let created = 0;
    const first = Math.max(dayStart(now - this.window.backMs), dayStart(cutoff));
    for (let lo = first; lo <= dayStart(now + this.window.aheadMs); lo += DAY_MS) {
      if (have.has(lo)) continue;
      await this.createDay(q, lo);
      created++;
    }
    return created;
  }

  /**
   * A new day's rows may already sit in DEFAULT (maintenance was behind, or a future clock):
   * PostgreSQL refuses a partition that DEFAULT has rows for, so they are moved into it first,
   * with DEFAULT locked against inserts until the partition is attached.
   */
  private async createDay(q: QueryRunner, lo: number): Promise<void> {
    const name = dayPartitionName(lo);
    const hi = lo + DAY_MS;
    await this.withLockRetries(() =>
      this.transaction(q, async () => {
        const stray = (await q.query(`SELECT 1 FROM ${DEFAULT_PARTITION} WHERE event_time >= $1 AND event_time < $2 LIMIT 1`, [lo, hi])) as unknown[];
        if (stray.length === 0) {
          await q.query(`CREATE TABLE ${name} PARTITION OF events FOR VALUES FROM (${lo}) TO (${hi})`);
          return;
        }
        await q.query(`LOCK TABLE ${DEFAULT_PARTITION} IN SHARE ROW EXCLUSIVE MODE`);
        await q.query(`CREATE TABLE ${name} (LIKE events INCLUDING DEFAULTS)`);
        await q.query(`WITH moved AS (DELETE FROM ${DEFAULT_PARTITION} WHERE event_time >= $1 AND event_time < $2 RETURNING *) INSERT INTO ${name} SELECT * FROM moved`, [lo, hi]);
        await q.query(`ALTER TABLE events ATTACH PARTITION ${name} FOR VALUES FROM (${lo}) TO (${hi})`);
      }),
    );
  }

  private async dropDays(q: QueryRunner, cutoff: number): Promise<PartitionDrop> {
    const out: PartitionDrop = { partitions: 0, rows: 0, failed: 0 };
    for (const p of await this.list(q)) {
      if (p.hi > cutoff) break;
      try {
        let rows = p.estimatedRows;
        if (rows < 0) rows = Number(((await q.query(`SELECT COUNT(*) AS n FROM ${p.name}`)) as Array<{ n: string }>)[0].n);
        await this.withLockRetries(() => this.transaction(q, () => q.query(`DROP TABLE ${p.name}`)));
        out.partitions++;
        out.rows += Math.round(rows);
      } catch {
        // Most likely ingest's or a long query's lock held through every attempt: the next round tries again.
        out.failed++;
        break;
      }
    }
    return out;
  }

  /** Runs `attempt` again after a pause when it failed only for a lock not granted in time (SQLSTATE 55P03). */
  private async withLockRetries(attempt: () => Promise<void>): Promise<void> {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        const e = err as { code?: string; driverError?: { code?: string } };
        if ((e.code ?? e.driverError?.code) !== "55P03" || i >= LOCK_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, LOCK_RETRY_PAUSE_MS));
      }
    }
  }

  private async transaction(q: QueryRunner, work: () => Promise<unknown>): Promise<void> {
    await q.startTransaction();
    try {
      await q.query(`SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`);
      await work();
      await q.commitTransaction();
    } catch (err) {
      if (q.isTransactionActive) await q.rollbackTransaction().catch(() => undefined);
      throw err;
    }
  }

  /** Runs `work` on one connection holding the maintenance lock; undefined when another replica holds it. */
  private async maintain<T>(work: (q: QueryRunner) => Promise<T>): Promise<T | undefined> {
    const q = this.ds.createQueryRunner();
    try {
      const [got] = (await q.query(`SELECT pg_try_advisory_lock(${MAINTENANCE_LOCK}) AS ok`)) as Array<{ ok: boolean }>;
      if (!got?.ok) return undefined;
      try {
        return await work(q);
      } finally {
        await q.query(`SELECT pg_advisory_unlock(${MAINTENANCE_LOCK})`).catch(() => undefined);
      }
    } finally {
      await q.release();
    }
  }
}
