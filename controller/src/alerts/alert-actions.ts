import { suggestSuppression, entityKey, type EntityKind, type SuppressionDraft } from "@vigil/detection";
import type { Repository } from "typeorm";
import type { SqlBatch } from "../database/sql-batch";
import type { AlertService } from "./alert-service";
import { AlertEntity, AlertFeedbackEntity, type AlertVerdict } from "../database/entities/alert.entity";
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
    private readonly alerts: Repository<AlertEntity>,
    private readonly feedbackRepo: Repository<AlertFeedbackEntity>,
    private readonly sql: SqlBatch,
    private readonly service: AlertService,
    private readonly weights: FeedbackWeightStore,
    private readonly suppressions: SuppressionService,
    private readonly now: () => number = Date.now,
  ) {}

  async ack(id: string): Promise<AlertEntity | null> {
    const a = await this.alerts.findOneBy({ id });
    if (!a) return null;
    if (a.state === "new") {
      await this.sql.run([{ sql: `UPDATE alerts SET state = 'acknowledged', updated_at = ? WHERE id = ? AND state = 'new'`, params: [this.now(), id] }]);
      this.service.forget(a.dedupKey);
    }
    return this.alerts.findOneBy({ id });
  }

  async feedback(id: string, verdict: AlertVerdict, note: string | undefined, createSuppression: boolean, actor: string): Promise<FeedbackResult | null> {
    const a = await this.alerts.findOneBy({ id });
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
    await this.sql.run([write, { sql: `UPDATE alerts SET verdict = ?, state = ?, updated_at = ? WHERE id = ?`, params: [verdict, state, now, id] }]);
    this.service.forget(a.dedupKey);
    const rec = await this.feedbackRepo.save(
      { alertId: id, ruleId: a.ruleId, entityKey: entityKey(entity), verdict, note: note ?? null, actor, createdAt: now, suppressionId: created?.id ?? null },
      { transaction: false },
    );
    return {
      alertId: id,
      verdict,
      weight,
      ...(suggestion ? { suggestedSuppression: suggestion } : {}),
      ...(created ? { createdSuppression: created } : {}),
      recorded: { id: String(rec.id), actor, at: new Date(now).toISOString() },
    };
  }

  history(alertId: string): Promise<AlertFeedbackEntity[]> {
    return this.feedbackRepo.find({ where: { alertId }, order: { createdAt: "ASC" } });
  }
}
