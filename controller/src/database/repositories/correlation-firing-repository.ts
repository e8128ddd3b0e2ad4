import { createHash } from "node:crypto";
import type { SqlBatch, Stmt } from "../sql-batch";

/** Keys per look-up query (IN-list), well under every driver's parameter limit. */
const LOOKUP_CHUNK = 500;

/**
 * The correlation firings that made or merged into an alert (table correlation_firings): a firing
 * computed twice, by a redelivery, a replay after failover or two owners racing, is found here
 * and never alerts twice. Written in the detection chunk's transaction.
 */
export class CorrelationFiringRepository {
  constructor(private readonly batch: SqlBatch) {}

  /** Which of `keys` are recorded. */
  async seen(keys: readonly string[]): Promise<Set<string>> {
    const byColumn = new Map(keys.map((k) => [cut(k), k]));
    const uniq = [...byColumn.keys()];
    const out = new Set<string>();
    for (let i = 0; i < uniq.length; i += LOOKUP_CHUNK) {
      const part = uniq.slice(i, i + LOOKUP_CHUNK);
      const rows = await this.batch.query<{ firing_key: string }>(`SELECT firing_key FROM correlation_firings WHERE firing_key IN (${part.map(() => "?").join(", ")})`, part);
      for (const r of rows) out.add(byColumn.get(String(r.firing_key))!);
    }
    return out;
  }

  /**
   * Records firings (a plain INSERT: a key another process committed first makes this chunk's
   * transaction fail, and its redelivery then finds the key) and forgets those older than `before`.
   */
  recordWrites(firings: readonly { key: string; alertId: string }[], now: number, before?: number): Stmt[] {
    const out: Stmt[] = firings.map((f) => ({ sql: `INSERT INTO correlation_firings (firing_key, alert_id, created_at) VALUES (?, ?, ?)`, params: [cut(f.key), f.alertId, now] }));
    if (before !== undefined) out.push({ sql: `DELETE FROM correlation_firings WHERE created_at < ?`, params: [before] });
    return out;
  }
}

/** The column is 700 wide: a longer key (huge group-by values) is its start and a hash of the whole. */
function cut(key: string): string {
  return key.length > 700 ? `${key.slice(0, 620)}#${createHash("sha256").update(key).digest("hex")}` : key;
}
