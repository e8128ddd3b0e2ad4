import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

export class Commands1732750000000 implements MigrationInterface {
  name = "Commands1732750000000";

  async up(q: QueryRunner): Promise<void> {
    const pg = dialectOf(q.connection) === "postgres";
    const big = pg ? "BIGINT" : "INTEGER";
    await q.query(`CREATE TABLE commands (
      id VARCHAR(64) PRIMARY KEY,
      agent_id VARCHAR(128) NOT NULL,
      type VARCHAR(64) NOT NULL,
      params_json TEXT NOT NULL,
      state VARCHAR(16) NOT NULL,
      issued_at ${big} NOT NULL,
      expires_at ${big} NOT NULL,
      signature TEXT NOT NULL,
      payload_sha256 VARCHAR(64) NOT NULL,
      requested_by VARCHAR(128) NOT NULL,
      case_id VARCHAR(64),
      alert_id VARCHAR(64),
      local BOOLEAN NOT NULL DEFAULT ${pg ? "FALSE" : "0"},
      sent_at ${big},
      finished_at ${big},
      reason TEXT NOT NULL DEFAULT '',
      output_json TEXT NOT NULL DEFAULT '',
      undo_of VARCHAR(64)
    )`);
    await q.query(`CREATE INDEX commands_agent_state ON commands (agent_id, state)`);
    await q.query(`CREATE TABLE action_log (
      id ${pg ? "SERIAL" : "INTEGER"} PRIMARY KEY${pg ? "" : " AUTOINCREMENT"},
      time ${big} NOT NULL,
      command_id VARCHAR(64) NOT NULL,
      agent_id VARCHAR(128) NOT NULL,
      step VARCHAR(32) NOT NULL,
      detail TEXT NOT NULL
    )`);
    await q.query(`CREATE INDEX action_log_command ON action_log (command_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE action_log`);
    await q.query(`DROP TABLE commands`);
  }
}
