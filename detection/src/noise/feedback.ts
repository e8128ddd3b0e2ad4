import { entityKey, type EntityRef } from "../scoring/entity";
import { escapeWildcards, type FieldValue } from "./field-match";
import type { AlertContext, Suppression } from "./suppression";

export type Verdict = "true_positive" | "false_positive";

/** What analysts said about one rule on one entity; `weight` feeds `scoreAlert`'s feedbackWeight. */
export interface FeedbackEntry {
  weight: number;
  truePositives: number;
  falsePositives: number;
  updatedAtMs?: number;
}

/** Keyed by `feedbackKey(ruleId, entity)`; plain JSON. */
export type FeedbackWeights = Readonly<Record<string, FeedbackEntry>>;

export interface FeedbackConfig {
  /** Each false positive multiplies the weight by this. */
  falsePositiveFactor: number;
  /** Above 1, each true positive adds this; below 1, a true positive undoes one false positive. */
  truePositiveStep: number;
  min: number;
  max: number;
}

/** Five false positives reach the floor (0.7^5 < 0.2); five true positives reach the ceiling. */
export const DEFAULT_FEEDBACK_CONFIG: FeedbackConfig = { falsePositiveFactor: 0.7, truePositiveStep: 0.1, min: 0.2, max: 1.5 };

export function feedbackKey(ruleId: string, entity: EntityRef): string {
  return `${ruleId}|${entityKey(entity)}`;
}

export function feedbackWeight(weights: FeedbackWeights, ruleId: string, entity: EntityRef): number {
  return weights[feedbackKey(ruleId, entity)]?.weight ?? 1;
}

const round = (n: number): number => Math.round(n * 1e6) / 1e6;

/** New weights after an analyst verdict; the input is not changed. */
export function applyFeedback(weights: FeedbackWeights, ruleId: string, entity: EntityRef, verdict: Verdict, cfg: FeedbackConfig = DEFAULT_FEEDBACK_CONFIG, atMs?: number): FeedbackWeights {
  const key = feedbackKey(ruleId, entity);
  const prev = weights[key] ?? { weight: 1, truePositives: 0, falsePositives: 0 };
  let w: number;
  if (verdict === "false_positive") w = prev.weight * cfg.falsePositiveFactor;
  else if (prev.weight < 1) w = Math.min(1, prev.weight / cfg.falsePositiveFactor);
  else w = prev.weight + cfg.truePositiveStep;
  const entry: FeedbackEntry = {
    weight: round(Math.min(cfg.max, Math.max(cfg.min, w))),
    truePositives: prev.truePositives + (verdict === "true_positive" ? 1 : 0),
    falsePositives: prev.falsePositives + (verdict === "false_positive" ? 1 : 0),
    ...(atMs !== undefined ? { updatedAtMs: atMs } : {}),
  };
  return { ...weights, [key]: entry };
}

/**
 * Fields that identify "this benign activity" without being unique per run. Command lines and
 * process ids change on every run, so they are left out.
 */
export const DEFAULT_SUGGEST_FIELDS = ["AgentId", "User", "SourceIp", "Image", "ParentImage", "TargetFilename", "DestinationIp", "DestinationHostname"];

export interface SuggestOptions {
  nowMs?: number;
  /** Suggested expiry; default 30 days, so forgotten allowlists age out. */
  ttlMs?: number;
  fields?: readonly string[];
  createdBy?: string;
}

export type SuppressionDraft = Omit<Suppression, "id">;

const scalar = (v: unknown): v is Exclude<FieldValue, null | undefined> => typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/**
 * A suppression an analyst can accept after marking the alert a false positive: this rule, with the
 * identifying fields of this alert matched literally. Offered, not applied: the caller stores it.
 */
export function suggestSuppression(ctx: AlertContext, opts: SuggestOptions = {}): SuppressionDraft {
  const fields: Record<string, string> = {};
  for (const name of opts.fields ?? DEFAULT_SUGGEST_FIELDS) {
    const v = ctx.fields[name];
    if (scalar(v) && String(v) !== "") fields[name] = escapeWildcards(String(v));
  }
  const scope = Object.keys(fields);
  const draft: SuppressionDraft = {
    ruleId: escapeWildcards(ctx.ruleId),
    reason:
      scope.length > 0
        ? `false positive of ${ctx.ruleId} for ${scope.map((f) => `${f}=${String(ctx.fields[f])}`).join(", ")}`
        : `false positive of ${ctx.ruleId}; no identifying fields, so this would suppress the rule everywhere: narrow it before saving`,
  };
  if (scope.length > 0) draft.fields = fields;
  if (opts.nowMs !== undefined) {
    draft.createdAtMs = opts.nowMs;
    draft.expiresAtMs = opts.nowMs + (opts.ttlMs ?? 30 * 24 * 60 * 60 * 1000);
  }
  if (opts.createdBy !== undefined) draft.createdBy = opts.createdBy;
  return draft;
}
