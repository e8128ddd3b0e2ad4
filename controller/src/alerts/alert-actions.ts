import { suggestSuppression, entityKey, type EntityKind, type SuppressionDraft } from "@vigil/detection";
import type { AlertEntity, AlertFeedbackEntity, AlertVerdict } from "../database/entities/alert.entity";
import type { AlertRepository } from "../database/repositories/alert-repository";
import type { AlertService } from "./alert-service";
import type { FeedbackWeightStore } from "./feedback-weights";
import type { SuppressionService, SuppressionView } from "./suppression-service";

export interface FeedbackResult {
  alertId: string;
  verdict: AlertVerdict;
  /** The (rule, entity) weight future alerts are scored with. */
  weight: number;
  suggestedSuppression?: SuppressionDraft;
  createdSuppression?: SuppressionView;
  recorded: { id: string; actor: string; at: string };
}

/**
 * Analyst actions on one alert: acknowledge, and verdict feedback. A false positive resolves the
 * alert, lowers the (rule, entity) weight, and offers (or creates) a suppression built from the
 * alert's identifying fields; a true positive raises the weight. Every verdict is recorded.
 */
export class AlertActions {
  constructor(
    private readonly alerts: AlertRepository,
    /** Its cache of open alerts goes stale when an analyst changes one. */
    private readonly service: Pick<AlertService, "forget">,
    private readonly weights: Pick<FeedbackWeightStore, "apply">,
    private readonly suppressions: Pick<SuppressionService, "create">,
    private readonly now: () => number = Date.now,
  ) {}

  async ack(id: string): Promise<AlertEntity | null> {
    const a = await this.alerts.byId(id);
    if (!a) return null;
    if (a.state === "new") {
      await this.alerts.acknowledge(id, this.now());
      this.service.forget(a.dedupKey);
    }
    return this.alerts.byId(id);
  }

  async feedback(id: string, verdict: AlertVerdict, note: string | undefined, createSuppression: boolean, actor: string): Promise<FeedbackResult | null> {
    const a = await this.alerts.byId(id);
    if (!a) return null;
    const now = this.now();
    const entity = { kind: a.entityKind as EntityKind, id: a.entityValue };
    let suggestion: SuppressionDraft | undefined;
    let created: SuppressionView | undefined;
    if (verdict === "false_positive") {
      const fields: Record<string, string | number | boolean> = {};
      const first = a.eventFields[0] ?? {};
      for (const [k, v] of Object.entries({ ...first, ...(a.groupBy ?? {}) })) if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") fields[k] = v;
      suggestion = suggestSuppression({ ruleId: a.ruleId, fields }, { nowMs: now, createdBy: actor });
      if (createSuppression) created = await this.suppressions.create({ ruleId: suggestion.ruleId, fields: suggestion.fields, expiresAtMs: suggestion.expiresAtMs, reason: suggestion.reason }, actor);
    }
    const { weight, write } = this.weights.apply(a.ruleId, entity, verdict, now);
    const state = verdict === "false_positive" ? "resolved" : a.state === "new" ? "acknowledged" : a.state;
    await this.alerts.setVerdict(id, verdict, state, now, [write]);
    this.service.forget(a.dedupKey);
    const recordId = await this.alerts.recordFeedback({
      alertId: id,
      ruleId: a.ruleId,
      entityKey: entityKey(entity),
      verdict,
      note: note ?? null,
      actor,
      createdAt: now,
      suppressionId: created?.id ?? null,
    });
    return {
      alertId: id,
      verdict,
      weight,
      ...(suggestion ? { suggestedSuppression: suggestion } : {}),
      ...(created ? { createdSuppression: created } : {}),
      recorded: { id: recordId, actor, at: new Date(now).toISOString() },
    };
  }

  history(alertId: string): Promise<AlertFeedbackEntity[]> {
    return this.alerts.feedbackHistory(alertId);
  }
}
