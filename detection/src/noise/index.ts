export { escapeWildcards, wildcardMatcher, type FieldPattern, type FieldValue } from "./field-match";
export { isSuppressed, suppressionMatches, validateSuppression, type AlertContext, type Suppression, type SuppressionCheck } from "./suppression";
export { DEFAULT_DEDUP_CONFIG, dedupKey, mergeMatch, shouldMerge, type DedupConfig, type DedupState, type RuleMatchRef } from "./dedup";
export {
  DEFAULT_FEEDBACK_CONFIG,
  DEFAULT_SUGGEST_FIELDS,
  applyFeedback,
  feedbackKey,
  feedbackWeight,
  suggestSuppression,
  type FeedbackConfig,
  type FeedbackEntry,
  type FeedbackWeights,
  type SuggestOptions,
  type SuppressionDraft,
  type Verdict,
} from "./feedback";
