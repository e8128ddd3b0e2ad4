import { applyFeedback, feedbackKey, feedbackWeight, type EntityRef, type FeedbackWeights, type Verdict } from "@vigil/detection";
import type { FeedbackWeightRepository } from "../database/repositories/feedback-weight-repository";
import type { Stmt } from "../database/sql-batch";

/** Analyst feedback weights per (rule, entity), in memory for scoring and persisted on change. */
export class FeedbackWeightStore {
  private weights: FeedbackWeights = {};

  constructor(private readonly repo: FeedbackWeightRepository) {}

  async load(): Promise<void> {
    this.weights = await this.repo.all();
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
      write: this.repo.upsertWrite(key, e, atMs),
    };
  }
}
