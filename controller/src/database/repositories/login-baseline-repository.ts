import type { SqlBatch, Stmt } from "../sql-batch";

/** Per-user login baselines as stored JSON; parsing and judging them is detection's. */
export class LoginBaselineRepository {
  constructor(private readonly batch: SqlBatch) {}

  all(): Promise<Array<{ user_name: string; baseline: string }>> {
    return this.batch.query<{ user_name: string; baseline: string }>(`SELECT user_name, baseline FROM login_baselines`);
  }

  /** The statement that stores one user's baseline, for the chunk's transaction. */
  upsertWrite(user: string, baseline: unknown, at: number): Stmt {
    return {
      sql: `INSERT INTO login_baselines (user_name, baseline, updated_at) VALUES (?, ?, ?)
            ON CONFLICT (user_name) DO UPDATE SET baseline = excluded.baseline, updated_at = excluded.updated_at`,
      params: [user.slice(0, 255), JSON.stringify(baseline), at],
    };
  }
}
