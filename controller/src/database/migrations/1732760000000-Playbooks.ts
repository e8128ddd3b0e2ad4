import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

export class Playbooks1732760000000 implements MigrationInterface {
  name = "Playbooks1732760000000";

  async up(q: QueryRunner): Promise<void> {
    const pg = dialectOf(q.connection) === "postgres";
    const big = pg ? "BIGINT" : "INTEGER";
    const f = pg ? "FALSE" : "0";
    await q.query(`CREATE TABLE playbooks (
      id VARCHAR(64) PRIMARY KEY, name VARCHAR(200) NOT NULL, version INTEGER NOT NULL, yaml TEXT NOT NULL,
      enabled BOOLEAN NOT NULL, deleted BOOLEAN NOT NULL DEFAULT ${f}, created_at ${big} NOT NULL, updated_at ${big} NOT NULL)`);
    await q.query(`CREATE TABLE playbook_versions (
      playbook_id VARCHAR(64) NOT NULL, version INTEGER NOT NULL, yaml TEXT NOT NULL, created_at ${big} NOT NULL,
      created_by VARCHAR(128) NOT NULL, PRIMARY KEY (playbook_id, version))`);
    await q.query(`CREATE TABLE playbook_actions (
      id VARCHAR(36) PRIMARY KEY, playbook_id VARCHAR(64) NOT NULL, playbook_version INTEGER NOT NULL,
      alert_id VARCHAR(36) NOT NULL, case_id VARCHAR(36), agent_id VARCHAR(128) NOT NULL, action_index INTEGER NOT NULL,
      action_type VARCHAR(32) NOT NULL, params_json TEXT NOT NULL, state VARCHAR(16) NOT NULL, reason TEXT NOT NULL,
      command_id VARCHAR(64), created_at ${big} NOT NULL, decided_at ${big}, decided_by VARCHAR(128))`);
    await q.query(`CREATE UNIQUE INDEX playbook_actions_once ON playbook_actions (playbook_id, alert_id, action_index)`);
    await q.query(`CREATE INDEX playbook_actions_case ON playbook_actions (case_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE playbook_actions`);
    await q.query(`DROP TABLE playbook_versions`);
    await q.query(`DROP TABLE playbooks`);
  }
}
