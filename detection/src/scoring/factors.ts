import type { DeviationReason } from "./baseline";
import type { ScoreWeights } from "./config";
import { entityKey, type EntityRef } from "./entity";

/** One line of a score's explanation. */
export interface ScoreFactor {
  factor: "level" | "ioc" | "asset" | "baseline" | "chain" | "feedback" | "clamp";
  points: number;
  detail: string;
}

/** An alert already raised, considered for chaining with the one being scored. */
export interface RelatedAlert {
  ruleId: string;
  /** How the chain factor names the rule; the id when absent. */
  ruleTitle?: string;
  timeMs: number;
  entities: readonly EntityRef[];
  tactics?: readonly string[];
}

const TACTICS = new Set([
  "reconnaissance",
  "resource_development",
  "initial_access",
  "execution",
  "persistence",
  "privilege_escalation",
  "defense_evasion",
  "credential_access",
  "discovery",
  "lateral_movement",
  "collection",
  "command_and_control",
  "exfiltration",
  "impact",
]);

/** ATT&CK tactics named in Sigma tags ("attack.credential_access"); technique ids are ignored. */
export function tacticsFromTags(tags: readonly string[]): string[] {
  const out = new Set<string>();
  for (const tag of tags) {
    const t = tag
      .toLowerCase()
      .replace(/^attack\./, "")
      .replace(/-/g, "_");
    if (TACTICS.has(t)) out.add(t);
  }
  return [...out];
}

const clampConfidence = (c: number): number => (Number.isFinite(c) ? Math.min(100, Math.max(0, c)) : 0);

export function iocFactor(confidences: readonly number[], w: ScoreWeights): ScoreFactor | undefined {
  if (confidences.length === 0) return undefined;
  const best = Math.max(...confidences.map(clampConfidence));
  const points = Math.round((best * w.iocMaxPoints) / 100);
  const n = confidences.length;
  return { factor: "ioc", points, detail: `${n} IOC hit${n === 1 ? "" : "s"}, highest confidence ${best}` };
}

export function assetFactor(agentTags: readonly string[], w: ScoreWeights): ScoreFactor | undefined {
  const counted = [...new Set(agentTags.map((t) => t.toLowerCase()))].filter((t) => (w.assetTags[t] ?? 0) !== 0);
  if (counted.length === 0) return undefined;
  const raw = counted.reduce((a, t) => a + (w.assetTags[t] ?? 0), 0);
  const points = Math.min(w.assetMaxPoints, raw);
  const capped = points < raw ? ` (capped at ${w.assetMaxPoints})` : "";
  return { factor: "asset", points, detail: `agent tags ${counted.join(", ")}${capped}` };
}

export function baselineFactor(deviations: readonly DeviationReason[], w: ScoreWeights): ScoreFactor | undefined {
  if (deviations.length === 0) return undefined;
  const raw = deviations.reduce((a, d) => a + (w.deviation[d.kind] ?? 0), 0);
  const points = Math.min(w.deviationMaxPoints, raw);
  return { factor: "baseline", points, detail: deviations.map((d) => d.detail).join("; ") };
}

/**
 * Other rules that fired on an entity this alert shares, within the window (event time, either side,
 * so a late-arriving earlier alert chains the same as a live one). Same-rule repeats are dedup's job
 * and do not count.
 */
export function chainFactor(
  alert: { ruleId: string; timeMs: number; entities: readonly EntityRef[]; tactics: readonly string[] },
  related: readonly RelatedAlert[],
  w: ScoreWeights,
  /** Entity key → how to name it in the detail (a host's name for "host:<agent id>"); the key when absent. */
  entityLabels?: ReadonlyMap<string, string>,
): ScoreFactor | undefined {
  const mine = new Set(alert.entities.map(entityKey));
  const rules = new Map<string, string>();
  const tactics = new Set(alert.tactics);
  const shared = new Set<string>();
  for (const r of related) {
    if (r.ruleId === alert.ruleId || Math.abs(r.timeMs - alert.timeMs) > w.chain.windowMs) continue;
    const common = r.entities.map(entityKey).filter((k) => mine.has(k));
    if (common.length === 0) continue;
    rules.set(r.ruleId, r.ruleTitle || r.ruleId);
    common.forEach((k) => shared.add(k));
    (r.tactics ?? []).forEach((t) => tactics.add(t));
  }
  if (rules.size === 0) return undefined;
  const rulePoints = Math.min(rules.size, w.chain.maxRelatedRules) * w.chain.perRelatedRule;
  const tacticPoints = Math.max(0, tactics.size - 1) * w.chain.perExtraTactic;
  const points = Math.min(w.chain.maxPoints, rulePoints + tacticPoints);
  const tacticText = tactics.size > 0 ? `; tactics ${[...tactics].sort().join(", ")}` : "";
  return {
    factor: "chain",
    points,
    detail: `${rules.size} other rule${rules.size === 1 ? "" : "s"} (${[...rules.values()].sort().join(", ")}) on ${[...shared]
      .map((k) => entityLabels?.get(k) || k)
      .sort()
      .join(", ")} within ${Math.round(w.chain.windowMs / 60000)} min${tacticText}`,
  };
}
