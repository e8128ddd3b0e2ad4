import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

/** The latest host inventory per agent (OS, hardware, users, listeners, packages). */
export class Inventory1733200000000 implements MigrationInterface {
  name = "Inventory1733200000000";

  async up(q: QueryRunner): Promise<void> {
    const big = dialectOf(q.connection) === "postgres" ? "BIGINT" : "INTEGER";
    await q.query(`CREATE TABLE agent_inventories (
      agent_id VARCHAR(64) PRIMARY KEY,
      collected_at ${big} NOT NULL,
      received_at ${big} NOT NULL,
      reason VARCHAR(32) NOT NULL,
      body TEXT NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DROP TABLE agent_inventories");
  }
}
