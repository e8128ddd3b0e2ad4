import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

/** Outbound webhooks: destinations, and the persisted delivery queue with its dead letters. */
export class Webhooks1733000000000 implements MigrationInterface {
  name = "Webhooks1733000000000";

  async up(q: QueryRunner): Promise<void> {
    const pg = dialectOf(q.connection) === "postgres";
    const big = pg ? "BIGINT" : "INTEGER";
    const serial = pg ? "SERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
    await q.query(`CREATE TABLE webhook_destinations (
      id VARCHAR(36) PRIMARY KEY,
      name VARCHAR(128) NOT NULL,
      url VARCHAR(2048) NOT NULL,
      format VARCHAR(16) NOT NULL,
      topics TEXT NOT NULL,
      min_score INTEGER NOT NULL,
      rule_tags TEXT NOT NULL,
      secret VARCHAR(256) NOT NULL,
      routing_key VARCHAR(256),
      enabled BOOLEAN NOT NULL,
      created_at ${big} NOT NULL,
      updated_at ${big} NOT NULL,
      created_by VARCHAR(160) NOT NULL
    )`);
    await q.query(`CREATE TABLE webhook_deliveries (
      id ${serial},
      destination_id VARCHAR(36) NOT NULL,
      topic VARCHAR(16) NOT NULL,
      notice_type VARCHAR(64) NOT NULL,
      notice_json TEXT NOT NULL,
      state VARCHAR(16) NOT NULL,
      attempts INTEGER NOT NULL,
      next_attempt_at ${big} NOT NULL,
      last_status INTEGER,
      last_error VARCHAR(512),
      created_at ${big} NOT NULL,
      updated_at ${big} NOT NULL
    )`);
    await q.query(`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)`);
    await q.query(`CREATE INDEX webhook_deliveries_dest ON webhook_deliveries (destination_id, state, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhook_destinations`);
  }
}
