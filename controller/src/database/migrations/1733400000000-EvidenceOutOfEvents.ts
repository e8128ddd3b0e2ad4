import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

/**
 * Command outputs (collected evidence: file contents, process lists) used to be stored in
 * the agent's command_result events too, where every API role, the stream and exports could
 * read them. New events are stored without it (ingest/event-row.ts); this removes it from
 * the events already stored. The output stays with its command, behind evidence.read_output.
 */
export class EvidenceOutOfEvents1733400000000 implements MigrationInterface {
  name = "EvidenceOutOfEvents1733400000000";

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q.connection) === "postgres") {
      await q.query(`UPDATE events SET data = data #- '{attributes,output}' WHERE type = 'agent' AND action = 'command_result' AND data->'attributes' ? 'output'`);
    } else {
      await q.query(`UPDATE events SET data = json_remove(data, '$.attributes.output') WHERE type = 'agent' AND action = 'command_result' AND json_extract(data, '$.attributes.output') IS NOT NULL`);
    }
  }

  async down(): Promise<void> {
    // Removed evidence is not put back.
  }
}
