import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The agent policy ships the best IOCs first (highest confidence, then most recently updated);
 * this index lets it page through them in that order without sorting the whole catalog each time.
 */
export class IocPolicyOrder1733300000000 implements MigrationInterface {
  name = "IocPolicyOrder1733300000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX iocs_policy_order ON iocs (confidence, updated_at, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX iocs_policy_order`);
  }
}
