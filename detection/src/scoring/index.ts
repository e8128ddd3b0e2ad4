export { entityKey, sameEntity, type EntityKind, type EntityRef } from "./entity";
export { DEFAULT_SCORE_WEIGHTS, RULE_LEVELS, scoreWeights, type ChainWeights, type RuleLevel, type ScoreWeightOverrides, type ScoreWeights } from "./config";
export { scoreAlert, type AlertScore, type ScoreInput } from "./score";
export { tacticsFromTags, type RelatedAlert, type ScoreFactor } from "./factors";
export {
  DEFAULT_BASELINE_CONFIG,
  emptyBaseline,
  hourOfDay,
  loginDeviation,
  observeLogin,
  parseLoginBaseline,
  type BaselineConfig,
  type BaselineParse,
  type DeviationKind,
  type DeviationReason,
  type KnownIp,
  type Login,
  type LoginBaseline,
} from "./baseline";
export { DEFAULT_RISK_CONFIG, decayFactor, raiseRisk, rankByRisk, riskAt, type EntityRisk, type RiskConfig } from "./risk";
