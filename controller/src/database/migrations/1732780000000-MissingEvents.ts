import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

/** An exact running count of skipped sequence numbers; the gaps list is bounded and under-counts. */
export class MissingEvents1732780000000 implements MigrationInterface {
  name = "MissingEvents1732780000000";

  async up(q: QueryRunner): Promise<void> {
    const big = dialectOf(q.connection) === "postgres" ? "BIGINT" : "INTEGER";
    await q.query(`ALTER TABLE agents ADD COLUMN missing_events ${big} NOT NULL DEFAULT 0`);
    // Best effort for existing rows: what the bounded list still knows.
    const rows = (await q.query(`SELECT id, gaps FROM agents`)) as Array<{ id: string; gaps: string }>;
    for (const r of rows) {
      let n = 0;
      try {
        for (const [a, b] of JSON.parse(r.gaps) as Array<[number, number]>) n += b - a + 1;
      } catch {
        n = 0;
      }
      if (n) await q.query(`UPDATE agents SET missing_events = ${dialectOf(q.connection) === "postgres" ? "$1" : "?"} WHERE id = ${dialectOf(q.connection) === "postgres" ? "$2" : "?"}`, [n, r.id]);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE agents DROP COLUMN missing_events`);
  }
}
