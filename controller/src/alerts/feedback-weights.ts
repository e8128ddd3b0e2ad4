import { applyFeedback, feedbackKey, feedbackWeight, type EntityRef, type FeedbackWeights, type Verdict } from "@vigil/detection";
import type { SqlBatch, Stmt } from "../database/sql-batch";

/** Analyst feedback weights per (rule, entity), in memory for scoring and persisted on change. */
export class FeedbackWeightStore {
  private weights: FeedbackWeights = {};

  constructor(private readonly sql: SqlBatch) {}

  async load(): Promise<void> {
    const rows = await this.sql.query<{ weight_key: string; weight: number; true_positives: number; false_positives: number; updated_at: number | string }>(
      `SELECT weight_key, weight, true_positives, false_positives, updated_at FROM feedback_weights`,
    );
    const w: Record<string, FeedbackWeights[string]> = {};
    for (const r of rows) w[r.weight_key] = { weight: Number(r.weight), truePositives: Number(r.true_positives), falsePositives: Number(r.false_positives), updatedAtMs: Number(r.updated_at) };
    this.weights = w;
  }

  weight(ruleId: string, entity: EntityRef): number {
    return feedbackWeight(this.weights, ruleId, entity);
  }

  /** The new weights take effect for the next alert; the statement persists them. */
  apply(ruleId: string, entity: EntityRef, verdict: Verdict, atMs: number): { weight: number; write: Stmt } {
    this.weights = applyFeedback(this.weights, ruleId, entity, verdict, undefined, atMs);
    const key = feedbackKey(ruleId, entity);
    const e = this.weights[key]!;
    return {
      weight: e.weight,
      write: {
        sql: `INSERT INTO feedback_weights (weight_key, weight, true_positives, false_positives, updated_at) VALUES (?, ?, ?, ?, ?)
              ON CONFLICT (weight_key) DO UPDATE SET weight = excluded.weight, true_positives = excluded.true_positives,
                false_positives = excluded.false_positives, updated_at = excluded.updated_at`,
        params: [key.slice(0, 500), e.weight, e.truePositives, e.falsePositives, atMs],
      },
    };
  }
}
