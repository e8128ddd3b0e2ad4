import type { EntityRef } from "./entity";

/**
 * Entity risk: each alert raises the entity's risk by its score, and risk halves every half-life,
 * so a host that was noisy last month ranks below one that alerted an hour ago.
 */

export interface RiskConfig {
  halfLifeMs: number;
  /** Risk never exceeds this. */
  maxRisk: number;
  /** Share of an alert's score added to risk (1 = the full score). */
  alertWeight: number;
}

export const DEFAULT_RISK_CONFIG: RiskConfig = { halfLifeMs: 24 * 60 * 60 * 1000, maxRisk: 100, alertWeight: 1 };

export interface EntityRisk {
  entity: EntityRef;
  /** Risk as of `updatedAtMs`; read it through `riskAt`. */
  score: number;
  updatedAtMs: number;
}

/** Factor by which risk shrinks over `elapsedMs`; time running backwards decays nothing. */
export function decayFactor(elapsedMs: number, halfLifeMs: number): number {
  if (!(elapsedMs > 0)) return 1;
  if (!(halfLifeMs > 0)) return 0;
  return Math.pow(0.5, elapsedMs / halfLifeMs);
}

/** The entity's risk at `nowMs` (0 for an entity never seen). Pure. */
export function riskAt(risk: EntityRisk | undefined, nowMs: number, cfg: RiskConfig = DEFAULT_RISK_CONFIG): number {
  if (!risk) return 0;
  return risk.score * decayFactor(nowMs - risk.updatedAtMs, cfg.halfLifeMs);
}

/**
 * Adds an alert's score at event time `atMs`. A late alert (older than the last update, e.g. a
 * replayed backlog) is decayed to the last update instead of moving time backwards, so replay order
 * changes the result only when the cap is reached.
 */
export function raiseRisk(risk: EntityRisk | undefined, entity: EntityRef, alertScore: number, atMs: number, cfg: RiskConfig = DEFAULT_RISK_CONFIG): EntityRisk {
  const add = Math.max(0, Number.isFinite(alertScore) ? alertScore : 0) * cfg.alertWeight;
  if (!risk) return { entity, score: Math.min(cfg.maxRisk, add), updatedAtMs: atMs };
  if (atMs >= risk.updatedAtMs) {
    return { entity, score: Math.min(cfg.maxRisk, riskAt(risk, atMs, cfg) + add), updatedAtMs: atMs };
  }
  const lateAdd = add * decayFactor(risk.updatedAtMs - atMs, cfg.halfLifeMs);
  return { entity, score: Math.min(cfg.maxRisk, risk.score + lateAdd), updatedAtMs: risk.updatedAtMs };
}

/** Entities ordered by current risk, highest first, for "what should I look at" views. */
export function rankByRisk(risks: Iterable<EntityRisk>, nowMs: number, cfg: RiskConfig = DEFAULT_RISK_CONFIG): { entity: EntityRef; risk: number }[] {
  return [...risks].map((r) => ({ entity: r.entity, risk: riskAt(r, nowMs, cfg) })).sort((a, b) => b.risk - a.risk);
}
