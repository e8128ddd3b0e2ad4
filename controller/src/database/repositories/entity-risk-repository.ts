import type { EntityKind, EntityRisk } from "@vigil/detection";
import type { SqlBatch, Stmt } from "../sql-batch";

/** Stored entity risk (host, user, IP), loaded whole at start and upserted with each chunk. */
export class EntityRiskRepository {
  constructor(private readonly batch: SqlBatch) {}

  async all(): Promise<Array<{ key: string; risk: EntityRisk }>> {
    const rows = await this.batch.query<{ entity_key: string; kind: string; value: string; score: number; updated_at: number | string }>(
      `SELECT entity_key, kind, value, score, updated_at FROM entity_risk`,
    );
    return rows.map((r) => ({ key: r.entity_key, risk: { entity: { kind: r.kind as EntityKind, id: r.value }, score: Number(r.score), updatedAtMs: Number(r.updated_at) } }));
  }

  /** The statement that stores one entity's risk, for the chunk's transaction. */
  upsertWrite(key: string, r: EntityRisk): Stmt {
    return {
      sql: `INSERT INTO entity_risk (entity_key, kind, value, score, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (entity_key) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at`,
      params: [key.slice(0, 300), r.entity.kind, r.entity.id.slice(0, 290), r.score, r.updatedAtMs],
    };
  }
}
