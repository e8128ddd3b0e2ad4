import type { DeviationKind } from "./baseline";

export type RuleLevel = "informational" | "low" | "medium" | "high" | "critical";
export const RULE_LEVELS: readonly RuleLevel[] = ["informational", "low", "medium", "high", "critical"];

export interface ChainWeights {
  /** Alerts this far apart (either direction, event time) on a shared entity raise each other. */
  windowMs: number;
  /** Points per other distinct rule that fired on a shared entity within the window. */
  perRelatedRule: number;
  /** Only this many related rules count, so one noisy host cannot dominate. */
  maxRelatedRules: number;
  /** Points per ATT&CK tactic beyond the first across the chain: a story spanning stages is worse. */
  perExtraTactic: number;
  /** Cap on the whole chaining factor. */
  maxPoints: number;
}

/**
 * Every number the scorer uses. The defaults put a critical rule alone at 75, leave room for
 * context to push real attacks to 100, and keep an informational rule with no context near 5.
 */
export interface ScoreWeights {
  /** Base points by Sigma rule level. */
  level: Record<RuleLevel, number>;
  /** Points for an IOC hit of confidence 100; scaled linearly, highest-confidence hit counts. */
  iocMaxPoints: number;
  /** Points per agent tag (lowercase); tags not listed add nothing. Summed, then capped. */
  assetTags: Record<string, number>;
  assetMaxPoints: number;
  /** Points per baseline deviation reason; summed, then capped. */
  deviation: Record<DeviationKind, number>;
  deviationMaxPoints: number;
  chain: ChainWeights;
  /** Bounds applied to the analyst feedback multiplier before use. */
  feedbackMin: number;
  feedbackMax: number;
}

export const DEFAULT_SCORE_WEIGHTS: ScoreWeights = {
  level: { informational: 5, low: 15, medium: 35, high: 55, critical: 75 },
  iocMaxPoints: 25,
  assetTags: { critical: 15, "crown-jewel": 15, production: 8, prod: 8, dmz: 6, server: 5, domain_controller: 10 },
  assetMaxPoints: 20,
  deviation: { new_source_ip: 10, unusual_hour: 8 },
  deviationMaxPoints: 15,
  chain: { windowMs: 60 * 60 * 1000, perRelatedRule: 5, maxRelatedRules: 4, perExtraTactic: 5, maxPoints: 30 },
  feedbackMin: 0.2,
  feedbackMax: 1.5,
};

export type ScoreWeightOverrides = Partial<Omit<ScoreWeights, "level" | "deviation" | "chain">> & {
  level?: Partial<Record<RuleLevel, number>>;
  deviation?: Partial<Record<DeviationKind, number>>;
  chain?: Partial<ChainWeights>;
};

/** Defaults with overrides (e.g. from the controller's config) merged section by section. */
export function scoreWeights(overrides: ScoreWeightOverrides = {}): ScoreWeights {
  const d = DEFAULT_SCORE_WEIGHTS;
  return {
    ...d,
    ...overrides,
    level: { ...d.level, ...overrides.level },
    assetTags: { ...(overrides.assetTags ?? d.assetTags) },
    deviation: { ...d.deviation, ...overrides.deviation },
    chain: { ...d.chain, ...overrides.chain },
  };
}
