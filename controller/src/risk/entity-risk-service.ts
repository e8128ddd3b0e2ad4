import { DEFAULT_RISK_CONFIG, entityKey, raiseRisk, riskAt, type EntityKind, type EntityRef, type EntityRisk, type RiskConfig } from "@vigil/detection";
import type { SqlBatch, Stmt } from "../database/sql-batch";

export interface EntityRiskView {
  kind: EntityKind;
  value: string;
  /** Risk now (decayed), 0-100. */
  risk: number;
  /** Event time of the last alert that raised it. */
  updatedAt: string;
}

export const ENTITY_KINDS: readonly EntityKind[] = ["host", "user", "ip"];

/**
 * Entity risk (host, user, IP): raised by each new alert's score at the alert's event time and
 * halved every half-life. Kept in memory for ranking, written back with the pipeline's chunk.
 */
export class EntityRiskService {
  private readonly risks = new Map<string, EntityRisk>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly sql: SqlBatch,
    private readonly now: () => number = Date.now,
    private readonly cfg: RiskConfig = DEFAULT_RISK_CONFIG,
  ) {}

  async load(): Promise<void> {
    const rows = await this.sql.query<{ entity_key: string; kind: string; value: string; score: number; updated_at: number | string }>(
      `SELECT entity_key, kind, value, score, updated_at FROM entity_risk`,
    );
    for (const r of rows) this.risks.set(r.entity_key, { entity: { kind: r.kind as EntityKind, id: r.value }, score: Number(r.score), updatedAtMs: Number(r.updated_at) });
  }

  raise(entity: EntityRef, score: number, atMs: number): void {
    const k = entityKey(entity);
    this.risks.set(k, raiseRisk(this.risks.get(k), entity, score, atMs, this.cfg));
    this.dirty.add(k);
  }

  riskOf(entity: EntityRef): number {
    return riskAt(this.risks.get(entityKey(entity)), this.now(), this.cfg);
  }

  takeWrites(): Stmt[] {
    const out = [...this.dirty].map((k) => {
      const r = this.risks.get(k)!;
      return {
        sql: `INSERT INTO entity_risk (entity_key, kind, value, score, updated_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (entity_key) DO UPDATE SET score = excluded.score, updated_at = excluded.updated_at`,
        params: [k.slice(0, 300), r.entity.kind, r.entity.id.slice(0, 290), r.score, r.updatedAtMs],
      };
    });
    this.dirty.clear();
    return out;
  }

  /**
   * Ranked by current risk or by name. Decay is judged at the controller's clock; an entity whose
   * alerts are all from a replayed old backlog therefore ranks low, as it should.
   */
  list(f: { kind?: EntityKind; sort: "risk" | "value"; limit: number; minRisk?: number }): EntityRiskView[] {
    const now = this.now();
    const views = [...this.risks.values()]
      .filter((r) => !f.kind || r.entity.kind === f.kind)
      .map((r) => ({ kind: r.entity.kind, value: r.entity.id, risk: Math.round(riskAt(r, Math.max(now, r.updatedAtMs), this.cfg) * 10) / 10, updatedAt: new Date(r.updatedAtMs).toISOString() }))
      .filter((v) => f.minRisk === undefined || v.risk >= f.minRisk);
    views.sort((a, b) => (f.sort === "risk" ? b.risk - a.risk : a.value.localeCompare(b.value)));
    return views.slice(0, f.limit);
  }
}
