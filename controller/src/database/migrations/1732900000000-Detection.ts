import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

/**
 * Detection state: alerts, cases, uploaded rules and rule switches, IOCs, suppressions, analyst
 * feedback and its weights, login baselines and entity risk. JSON columns are TEXT in both
 * dialects: they are read whole, and TEXT keeps `LIKE` filters identical on SQLite and PostgreSQL.
 */
export class Detection1732900000000 implements MigrationInterface {
  name = "Detection1732900000000";

  async up(q: QueryRunner): Promise<void> {
    const pg = dialectOf(q.connection) === "postgres";
    const big = pg ? "BIGINT" : "INTEGER";
    const real = pg ? "DOUBLE PRECISION" : "REAL";
    const serial = pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
    await q.query(`CREATE TABLE alerts (
      id VARCHAR(36) PRIMARY KEY,
      rule_id VARCHAR(128) NOT NULL,
      rule_title VARCHAR(512) NOT NULL,
      rule_level VARCHAR(16) NOT NULL,
      rule_tags TEXT NOT NULL,
      kind VARCHAR(16) NOT NULL,
      correlation_type VARCHAR(32),
      agent_id VARCHAR(128) NOT NULL,
      hostname VARCHAR(255) NOT NULL DEFAULT '',
      entity_kind VARCHAR(8) NOT NULL,
      entity_value VARCHAR(255) NOT NULL,
      entities TEXT NOT NULL,
      dedup_key VARCHAR(700) NOT NULL,
      score INTEGER NOT NULL,
      breakdown TEXT NOT NULL,
      count INTEGER NOT NULL,
      first_seen ${big} NOT NULL,
      last_seen ${big} NOT NULL,
      created_at ${big} NOT NULL,
      updated_at ${big} NOT NULL,
      state VARCHAR(16) NOT NULL,
      verdict VARCHAR(32),
      case_id VARCHAR(36),
      event_refs TEXT NOT NULL,
      event_fields TEXT NOT NULL,
      group_by TEXT,
      ioc_hits TEXT NOT NULL
    )`);
    await q.query(`CREATE INDEX alerts_dedup ON alerts (dedup_key, state)`);
    await q.query(`CREATE INDEX alerts_last_seen ON alerts (last_seen, id)`);
    await q.query(`CREATE INDEX alerts_case ON alerts (case_id)`);
    await q.query(`CREATE INDEX alerts_created ON alerts (created_at)`);

    await q.query(`CREATE TABLE cases (
      id VARCHAR(36) PRIMARY KEY,
      title VARCHAR(512) NOT NULL,
      state VARCHAR(16) NOT NULL,
      verdict VARCHAR(32),
      score INTEGER NOT NULL,
      entities TEXT NOT NULL,
      alert_count INTEGER NOT NULL,
      first_seen ${big} NOT NULL,
      last_seen ${big} NOT NULL,
      created_at ${big} NOT NULL,
      updated_at ${big} NOT NULL,
      resolved_by VARCHAR(255)
    )`);
    await q.query(`CREATE INDEX cases_state_last ON cases (state, last_seen)`);

    await q.query(`CREATE TABLE detection_rule_sources (
      name VARCHAR(255) PRIMARY KEY,
      yaml TEXT NOT NULL,
      rule_ids TEXT NOT NULL,
      created_at ${big} NOT NULL,
      created_by VARCHAR(255) NOT NULL DEFAULT ''
    )`);
    await q.query(`CREATE TABLE detection_rule_settings (
      rule_id VARCHAR(128) PRIMARY KEY,
      enabled INTEGER NOT NULL,
      updated_at ${big} NOT NULL,
      updated_by VARCHAR(255) NOT NULL DEFAULT ''
    )`);

    await q.query(`CREATE TABLE iocs (
      id ${serial},
      kind VARCHAR(8) NOT NULL,
      value VARCHAR(300) NOT NULL,
      confidence INTEGER NOT NULL,
      source VARCHAR(255) NOT NULL,
      description TEXT,
      expires_at ${big},
      tags TEXT NOT NULL,
      source_id VARCHAR(255),
      created_at ${big} NOT NULL,
      updated_at ${big} NOT NULL
    )`);
    // Re-importing a feed updates its indicators instead of duplicating them.
    await q.query(`CREATE UNIQUE INDEX iocs_kind_value_source ON iocs (kind, value, source)`);

    await q.query(`CREATE TABLE suppressions (
      id VARCHAR(64) PRIMARY KEY,
      rule_id VARCHAR(255),
      fields TEXT,
      agent_tags TEXT,
      expires_at ${big},
      reason TEXT NOT NULL,
      created_by VARCHAR(255) NOT NULL DEFAULT '',
      created_at ${big} NOT NULL,
      hits INTEGER NOT NULL DEFAULT 0,
      last_hit_at ${big}
    )`);

    await q.query(`CREATE TABLE alert_feedback (
      id ${serial},
      alert_id VARCHAR(36) NOT NULL,
      rule_id VARCHAR(128) NOT NULL,
      entity_key VARCHAR(300) NOT NULL,
      verdict VARCHAR(32) NOT NULL,
      note TEXT,
      actor VARCHAR(255) NOT NULL,
      created_at ${big} NOT NULL,
      suppression_id VARCHAR(64)
    )`);
    await q.query(`CREATE INDEX alert_feedback_alert ON alert_feedback (alert_id)`);
    await q.query(`CREATE TABLE feedback_weights (
      weight_key VARCHAR(500) PRIMARY KEY,
      weight ${real} NOT NULL,
      true_positives INTEGER NOT NULL,
      false_positives INTEGER NOT NULL,
      updated_at ${big} NOT NULL
    )`);

    await q.query(`CREATE TABLE login_baselines (
      user_name VARCHAR(255) PRIMARY KEY,
      baseline TEXT NOT NULL,
      updated_at ${big} NOT NULL
    )`);
    await q.query(`CREATE TABLE entity_risk (
      entity_key VARCHAR(300) PRIMARY KEY,
      kind VARCHAR(8) NOT NULL,
      value VARCHAR(290) NOT NULL,
      score ${real} NOT NULL,
      updated_at ${big} NOT NULL
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ["entity_risk", "login_baselines", "feedback_weights", "alert_feedback", "suppressions", "iocs", "detection_rule_settings", "detection_rule_sources", "cases", "alerts"]) {
      await q.query(`DROP TABLE ${t}`);
    }
  }
}
