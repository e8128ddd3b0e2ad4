import type { FeedbackWeights } from "@vigil/detection";
import type { SqlBatch, Stmt } from "../sql-batch";

type Weight = FeedbackWeights[string];

/** Analyst feedback weights per (rule, entity) key. */
export class FeedbackWeightRepository {
  constructor(private readonly batch: SqlBatch) {}

  async all(): Promise<FeedbackWeights> {
    const rows = await this.batch.query<{ weight_key: string; weight: number; true_positives: number; false_positives: number; updated_at: number | string }>(
      `SELECT weight_key, weight, true_positives, false_positives, updated_at FROM feedback_weights`,
    );
    const w: Record<string, Weight> = {};
    for (const r of rows) w[r.weight_key] = { weight: Number(r.weight), truePositives: Number(r.true_positives), falsePositives: Number(r.false_positives), updatedAtMs: Number(r.updated_at) };
    return w;
  }

  /** The statement that stores one key's weight, committed with the verdict that changed it. */
  upsertWrite(key: string, e: Weight, atMs: number): Stmt {
    return {
      sql: `INSERT INTO feedback_weights (weight_key, weight, true_positives, false_positives, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (weight_key) DO UPDATE SET weight = excluded.weight, true_positives = excluded.true_positives,
              false_positives = excluded.false_positives, updated_at = excluded.updated_at`,
      params: [key.slice(0, 500), e.weight, e.truePositives, e.falsePositives, atMs],
    };
  }
}
