import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

/** Issue 6: audit chain, API keys, enrollment tokens, issued agent certificates, agent revocations. */
export class Trust1732800000000 implements MigrationInterface {
  name = "Trust1732800000000";

  async up(q: QueryRunner): Promise<void> {
    const pg = dialectOf(q.connection) === "postgres";
    const big = pg ? "BIGINT" : "INTEGER";
    // seq is the chain position; UNIQUE makes two concurrent writers (controller + CLI) collide
    // instead of forking the chain: the loser re-reads the head and retries.
    await q.query(`CREATE TABLE audit_log (
      seq ${big} PRIMARY KEY,
      time ${big} NOT NULL,
      actor VARCHAR(160) NOT NULL,
      action VARCHAR(64) NOT NULL,
      target VARCHAR(255) NOT NULL DEFAULT '',
      details TEXT NOT NULL,
      prev_hash VARCHAR(64) NOT NULL,
      hash VARCHAR(64) NOT NULL
    )`);
    await q.query(`CREATE INDEX audit_log_action ON audit_log (action, seq)`);
    await q.query(`CREATE INDEX audit_log_actor ON audit_log (actor, seq)`);
    await q.query(`CREATE INDEX audit_log_time ON audit_log (time, seq)`);
    await q.query(`CREATE TABLE api_keys (
      id VARCHAR(32) PRIMARY KEY,
      name VARCHAR(128) NOT NULL DEFAULT '',
      role VARCHAR(16) NOT NULL,
      hash VARCHAR(255) NOT NULL,
      created_at ${big} NOT NULL,
      created_by VARCHAR(160) NOT NULL,
      last_used_at ${big} NOT NULL DEFAULT 0,
      revoked_at ${big} NOT NULL DEFAULT 0
    )`);
    await q.query(`CREATE TABLE enrollment_tokens (
      id VARCHAR(32) PRIMARY KEY,
      hash VARCHAR(64) NOT NULL,
      tags TEXT NOT NULL,
      uses_left INTEGER NOT NULL,
      uses_total INTEGER NOT NULL,
      expires_at ${big} NOT NULL,
      created_at ${big} NOT NULL,
      created_by VARCHAR(160) NOT NULL
    )`);
    await q.query(`CREATE TABLE agent_certificates (
      serial VARCHAR(64) PRIMARY KEY,
      agent_id VARCHAR(128) NOT NULL,
      fingerprint VARCHAR(64) NOT NULL,
      not_before ${big} NOT NULL,
      not_after ${big} NOT NULL,
      issued_at ${big} NOT NULL,
      token_id VARCHAR(32) NOT NULL DEFAULT '',
      tags TEXT NOT NULL,
      revoked_at ${big} NOT NULL DEFAULT 0
    )`);
    await q.query(`CREATE UNIQUE INDEX agent_certificates_fp ON agent_certificates (fingerprint)`);
    await q.query(`CREATE INDEX agent_certificates_agent ON agent_certificates (agent_id)`);
    // One row per revoked agent; the running controller polls it (the CLI writes it).
    await q.query(`CREATE TABLE agent_revocations (
      agent_id VARCHAR(128) PRIMARY KEY,
      revoked_at ${big} NOT NULL,
      revoked_by VARCHAR(160) NOT NULL,
      reason VARCHAR(512) NOT NULL DEFAULT ''
    )`);
    await q.query(`CREATE INDEX agent_revocations_time ON agent_revocations (revoked_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ["agent_revocations", "agent_certificates", "enrollment_tokens", "api_keys", "audit_log"]) await q.query(`DROP TABLE ${t}`);
  }
}
