import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Tags an agent claims in its Hello, kept apart from `tags` (the enrollment
 * token's and the admin's), which are the only ones guard rails read. Before
 * this, Hello tags were merged into `tags`: they cannot be told apart now, so
 * existing rows keep them until the agent reconnects (it then gets its token
 * tags back in `tags` and its claims here).
 */
export class SelfReportedTags1733100000000 implements MigrationInterface {
  name = "SelfReportedTags1733100000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE agents ADD COLUMN self_reported_tags TEXT NOT NULL DEFAULT '[]'`);
    // Set by an admin (PUT /api/v1/agents/:id/tags): replaces the token's tags until changed again.
    await q.query(`ALTER TABLE agents ADD COLUMN admin_tags TEXT`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE agents DROP COLUMN admin_tags`);
    await q.query(`ALTER TABLE agents DROP COLUMN self_reported_tags`);
  }
}
