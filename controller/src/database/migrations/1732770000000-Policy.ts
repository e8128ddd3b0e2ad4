import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

export class Policy1732770000000 implements MigrationInterface {
  name = "Policy1732770000000";

  async up(q: QueryRunner): Promise<void> {
    const big = dialectOf(q.connection) === "postgres" ? "BIGINT" : "INTEGER";
    await q.query(`CREATE TABLE agent_policy (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, spec_json TEXT NOT NULL, updated_at ${big} NOT NULL, updated_by VARCHAR(128) NOT NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE agent_policy`);
  }
}
