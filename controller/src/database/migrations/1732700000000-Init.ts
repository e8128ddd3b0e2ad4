import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

export class Init1732700000000 implements MigrationInterface {
  name = "Init1732700000000";

  async up(q: QueryRunner): Promise<void> {
    const pg = dialectOf(q.connection) === "postgres";
    const big = pg ? "BIGINT" : "INTEGER";
    await q.query(`CREATE TABLE agents (
      id VARCHAR(128) PRIMARY KEY,
      hostname VARCHAR(255) NOT NULL DEFAULT '',
      os VARCHAR(255) NOT NULL DEFAULT '',
      kernel VARCHAR(255) NOT NULL DEFAULT '',
      arch VARCHAR(64) NOT NULL DEFAULT '',
      agent_version VARCHAR(64) NOT NULL DEFAULT '',
      ip_addresses TEXT NOT NULL,
      tags TEXT NOT NULL,
      boot_time ${big} NOT NULL DEFAULT 0,
      first_seen ${big} NOT NULL,
      last_seen ${big} NOT NULL,
      acked_seq ${big} NOT NULL DEFAULT 0,
      last_seq ${big} NOT NULL DEFAULT 0,
      status TEXT NOT NULL,
      gaps TEXT NOT NULL
    )`);
    await q.query(`CREATE TABLE events (
      id ${pg ? "BIGSERIAL" : "INTEGER"} PRIMARY KEY,
      agent_id VARCHAR(128) NOT NULL,
      seq ${big} NOT NULL,
      type VARCHAR(16) NOT NULL,
      action VARCHAR(32) NOT NULL,
      event_time ${big} NOT NULL,
      received_at ${big} NOT NULL,
      summary TEXT NOT NULL,
      data ${pg ? "JSONB" : "TEXT"} NOT NULL
    )`);
    // Idempotent ingest: a batch replayed after a lost ack hits this and is skipped.
    await q.query(`CREATE UNIQUE INDEX events_agent_seq ON events (agent_id, seq)`);
    await q.query(`CREATE INDEX events_time ON events (event_time, id)`);
    await q.query(`CREATE INDEX events_agent_time ON events (agent_id, event_time, id)`);
    await q.query(`CREATE INDEX events_type_time ON events (type, event_time, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE events`);
    await q.query(`DROP TABLE agents`);
  }
}
