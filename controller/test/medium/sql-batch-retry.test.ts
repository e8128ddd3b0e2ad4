import { DataSource, type DataSourceOptions } from "typeorm";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dataSourceOptions } from "../../src/database/data-source";
import { SqlBatch } from "../../src/database/sql-batch";
import { PG_ADMIN_URL, pgAdmin } from "../support/controller";

/**
 * Two replicas' detection chunks can write the same rows (an entity's risk, a case) in opposite
 * orders; PostgreSQL then rolls one transaction back with "deadlock detected". Found by
 * bench:scale (3 replicas, 600 agents): the chunk's alerts were lost. Here two real transactions
 * on real PostgreSQL take two rows in opposite orders, so one of them is always chosen as the
 * deadlock victim: both must still commit, each exactly once.
 */
describe("SqlBatch on PostgreSQL runs a deadlock victim's transaction again", () => {
  const schema = `vigil_sqlbatch_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let ds: DataSource;
  const admin = pgAdmin;

  beforeAll(async () => {
    await admin(`CREATE SCHEMA ${schema}`);
    const base = dataSourceOptions({ url: PG_ADMIN_URL }) as DataSourceOptions & { extra?: Record<string, unknown> };
    // deadlock_timeout 100 ms: PostgreSQL looks for the cycle sooner than its default second.
    ds = new DataSource({ ...base, schema, migrationsRun: false, extra: { ...base.extra, options: `-c search_path=${schema} -c deadlock_timeout=100` } } as DataSourceOptions);
    await ds.initialize();
    await ds.query(`CREATE TABLE counters (id int PRIMARY KEY, v int NOT NULL)`);
  });

  afterAll(async () => {
    await ds?.destroy();
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  beforeEach(async () => {
    await ds.query(`DELETE FROM counters`);
    await ds.query(`INSERT INTO counters (id, v) VALUES (1, 0), (2, 0)`);
  });

  const values = async (): Promise<number[]> => ((await ds.query(`SELECT v FROM counters ORDER BY id`)) as Array<{ v: number }>).map((r) => r.v);

  it("two transactions taking rows in opposite orders both commit, each once", async () => {
    const batch = new SqlBatch(ds);
    // Each holds its first row while it waits, then asks for the other's: a cycle PostgreSQL must break.
    const a = batch.run([
      { sql: `UPDATE counters SET v = v + 1 WHERE id = ?`, params: [1] },
      { sql: `SELECT pg_sleep(0.3)`, params: [] },
      { sql: `UPDATE counters SET v = v + 10 WHERE id = ?`, params: [2] },
    ]);
    const b = batch.run([
      { sql: `UPDATE counters SET v = v + 100 WHERE id = ?`, params: [2] },
      { sql: `SELECT pg_sleep(0.3)`, params: [] },
      { sql: `UPDATE counters SET v = v + 1000 WHERE id = ?`, params: [1] },
    ]);
    const outcomes = await Promise.allSettled([a, b]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled"]);
    // One victim was rolled back whole and run again: every increment applied exactly once.
    expect(await values()).toEqual([1001, 110]);
    expect(batch.stats.retries).toBeGreaterThanOrEqual(1);
  });

  it("any other error is passed on at once, with nothing applied", async () => {
    const batch = new SqlBatch(ds);
    await expect(
      batch.run([
        { sql: `UPDATE counters SET v = v + 1 WHERE id = ?`, params: [1] },
        { sql: `INSERT INTO counters (id, v) VALUES (?, 0)`, params: [2] },
        // Already written to the server with the others (one pipeline): refused there, never applied.
        { sql: `UPDATE counters SET v = v + 5 WHERE id = ?`, params: [2] },
      ]),
    ).rejects.toThrow(/duplicate key/);
    expect(batch.stats.retries).toBe(0);
    expect(await values()).toEqual([0, 0]);
    // The pool's connections are left as they were: ordinary queries and the next batch work on every one of them.
    for (let i = 0; i < 12; i++) await batch.run([{ sql: `UPDATE counters SET v = v + 1 WHERE id = ?`, params: [1] }]);
    expect(await Promise.all(Array.from({ length: 12 }, () => ds.query(`SELECT 1 AS one`)))).toHaveLength(12);
    expect(await values()).toEqual([12, 0]);
  });
});
