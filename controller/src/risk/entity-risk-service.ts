import { DEFAULT_RISK_CONFIG, entityKey, raiseRisk, riskAt, type EntityKind, type EntityRef, type EntityRisk, type RiskConfig } from "@vigil/detection";
import type { EntityRiskRepository } from "../database/repositories/entity-risk-repository";
import type { Stmt } from "../database/sql-batch";

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
    private readonly repo: EntityRiskRepository,
    private readonly now: () => number = Date.now,
    private readonly cfg: RiskConfig = DEFAULT_RISK_CONFIG,
  ) {}

  async load(): Promise<void> {
    for (const { key, risk } of await this.repo.all()) this.risks.set(key, risk);
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
    const out = [...this.dirty].map((k) => this.repo.upsertWrite(k, this.risks.get(k)!));
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
