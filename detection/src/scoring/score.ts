import type { DeviationReason } from "./baseline";
import { DEFAULT_SCORE_WEIGHTS, RULE_LEVELS, type RuleLevel, type ScoreWeights } from "./config";
import type { EntityRef } from "./entity";
import { assetFactor, baselineFactor, chainFactor, iocFactor, type RelatedAlert, type ScoreFactor } from "./factors";

export interface ScoreInput {
  ruleId: string;
  level: RuleLevel;
  /** Event time of the alert (its last matching event). */
  timeMs: number;
  /** What the alert is about: host, user, source IP. Chaining links alerts that share one. */
  entities: readonly EntityRef[];
  /** ATT&CK tactics of the rule, e.g. from `tacticsFromTags(rule.tags)`. */
  tactics?: readonly string[];
  /** Confidences (0-100) of the IOC hits behind the alert. */
  iocConfidences?: readonly number[];
  agentTags?: readonly string[];
  /** From `loginDeviation`, when the alert is about a login. */
  deviations?: readonly DeviationReason[];
  /** Recent alerts to chain with (the caller selects by entity; the window is applied here). */
  relatedAlerts?: readonly RelatedAlert[];
  /** Entity key → display name for explanations (e.g. "host:<agent id>" → "host web-1"). */
  entityLabels?: ReadonlyMap<string, string>;
  /** Analyst feedback multiplier for (rule, entity) from `feedbackWeight`; 1 is neutral. */
  feedbackWeight?: number;
}

export interface AlertScore {
  /** Integer 0-100. */
  score: number;
  /**
   * Why, line by line; the points always sum to `score`. When the raw sum leaves 0-100, a final
   * "clamp" line carries the difference (e.g. -34 for a raw 134), so nothing is hidden.
   */
  breakdown: ScoreFactor[];
}

/** Scores an alert from its context. Pure: same input, same score and explanation. */
export function scoreAlert(input: ScoreInput, weights: ScoreWeights = DEFAULT_SCORE_WEIGHTS): AlertScore {
  if (!RULE_LEVELS.includes(input.level)) {
    throw new Error(`scoreAlert: rule ${input.ruleId} has unknown level '${String(input.level)}' (expected ${RULE_LEVELS.join(", ")})`);
  }
  const breakdown: ScoreFactor[] = [{ factor: "level", points: Math.round(weights.level[input.level]), detail: `rule level ${input.level}` }];
  const optional = [
    iocFactor(input.iocConfidences ?? [], weights),
    assetFactor(input.agentTags ?? [], weights),
    baselineFactor(input.deviations ?? [], weights),
    chainFactor({ ruleId: input.ruleId, timeMs: input.timeMs, entities: input.entities, tactics: input.tactics ?? [] }, input.relatedAlerts ?? [], weights, input.entityLabels),
  ];
  for (const f of optional) if (f) breakdown.push(f);

  let sum = breakdown.reduce((a, f) => a + f.points, 0);
  const fw = input.feedbackWeight;
  if (fw !== undefined && fw !== 1) {
    const w = Number.isFinite(fw) ? Math.min(weights.feedbackMax, Math.max(weights.feedbackMin, fw)) : 1;
    // Feedback scales everything above, shown as the points it adds or removes.
    const points = Math.round(sum * (w - 1));
    if (points !== 0) {
      breakdown.push({ factor: "feedback", points, detail: `analyst feedback weight ${w.toFixed(2)} for this rule and entity` });
      sum += points;
    }
  }
  const score = Math.min(100, Math.max(0, sum));
  if (score !== sum) breakdown.push({ factor: "clamp", points: score - sum, detail: `raw score ${sum} clamped to ${score}` });
  return { score, breakdown };
}
