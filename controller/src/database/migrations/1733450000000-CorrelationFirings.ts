import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * One row per correlation firing that made or merged into an alert, keyed by what identifies the
 * firing whatever process computed it: the correlation's id, its group-by values and its window
 * (issue #12). A firing computed again (a redelivered input, the windows rebuilt by a new owner
 * after failover, a worker restart replaying its partition) finds its key and never counts as a
 * second alert; two owners racing on one key cannot both commit (primary key).
 */
export class CorrelationFirings1733450000000 implements MigrationInterface {
  name = "CorrelationFirings1733450000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE correlation_firings (firing_key VARCHAR(700) PRIMARY KEY, alert_id VARCHAR(36) NOT NULL, created_at BIGINT NOT NULL)`);
    await q.query(`CREATE INDEX correlation_firings_created ON correlation_firings (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE correlation_firings`);
  }
}
