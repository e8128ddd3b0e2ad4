import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

/**
 * Distributed mode (#12): how far each storage consumer has written its JetStream partition.
 * Moved in the same transaction as the events it covers, so a redelivered message is seen as
 * already stored (and never detected twice), and a replica that lost its lease cannot commit
 * over the new owner (the row is checked and moved under FOR UPDATE).
 */
export class StreamOffsets1733510000000 implements MigrationInterface {
  name = "StreamOffsets1733510000000";

  async up(q: QueryRunner): Promise<void> {
    const big = dialectOf(q.connection) === "postgres" ? "BIGINT" : "INTEGER";
    await q.query(`CREATE TABLE stream_offsets (
      stream VARCHAR(64) NOT NULL,
      part INTEGER NOT NULL,
      seq ${big} NOT NULL DEFAULT 0,
      updated_at ${big} NOT NULL DEFAULT 0,
      PRIMARY KEY (stream, part)
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE stream_offsets`);
  }
}
