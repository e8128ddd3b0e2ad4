import type { EventRow } from "./event-row";

/** One SQL statement on the writing transaction's connection, rows back. */
export type TxQuery = (sql: string, params: unknown[]) => Promise<Array<Record<string, unknown>>>;

export function eventKey(agentId: string, seq: number): string {
  return `${agentId}\u0000${seq}`;
}

/**
 * PostgreSQL's events table is partitioned by event_time, so its unique index is
 * (agent_id, seq, event_time): it catches a replay only when the replay carries the same
 * event time. Usually it does (the host's own time), but an event whose host time was too far
 * off is stored at its *receive* time (sanitizeBatch), which differs on each replay and can
 * fall on another day. So before inserting, the rows that may already be stored are looked up
 * by (agent_id, seq) across all partitions.
 *
 * Which rows may be stored: those at or below the agent's last_seq, which every write moves up
 * to at least its highest seq in the same transaction. A live stream is above it and costs
 * nothing; a replay (after a lost ack, a failover, a reconnect) costs one index range scan per
 * agent and partition. The agents' rows are locked (in id order, as LastSeenWriter does) for the
 * rest of the transaction, so two writers of one agent cannot both decide a row is new.
 *
 * Returns the keys (eventKey) of rows already stored.
 */
async function lockAgentsAndFindStored(query: TxQuery, rows: readonly EventRow[], agentIds: readonly string[]): Promise<Set<string>> {
  const agents = [...new Set([...agentIds, ...rows.map((r) => r.agentId)])];
  if (agents.length === 0) return new Set();
  const marks = new Map<string, number>();
  for (const r of await query(`SELECT id, last_seq FROM agents WHERE id = ANY($1::varchar[]) ORDER BY id FOR UPDATE`, [agents])) marks.set(String(r.id), Number(r.last_seq));
  const ranges = new Map<string, [number, number]>();
  for (const r of rows) {
    // An agent without a row (never registered) has no mark: all its rows are looked up.
    if (r.seq > (marks.get(r.agentId) ?? Infinity)) continue;
    const cur = ranges.get(r.agentId);
    ranges.set(r.agentId, cur ? [Math.min(cur[0], r.seq), Math.max(cur[1], r.seq)] : [r.seq, r.seq]);
  }
  if (ranges.size === 0) return new Set();
  const list = [...ranges];
  // LATERAL: one (agent_id, seq) index range scan per agent and partition, never a scan of the table.
  const found = await query(
    `SELECT e.agent_id, e.seq FROM unnest($1::varchar[], $2::bigint[], $3::bigint[]) AS r(agent, lo, hi)
     CROSS JOIN LATERAL (SELECT agent_id, seq FROM events WHERE agent_id = r.agent AND seq BETWEEN r.lo AND r.hi) e`,
    [list.map(([a]) => a), list.map(([, [lo]]) => lo), list.map(([, [, hi]]) => hi)],
  );
  return new Set(found.map((r) => eventKey(String(r.agent_id), Number(r.seq))));
}

/**
 * The rows to insert: not already stored, and each (agent, seq) once (a gathered write can hold
 * an agent's batch and its replay through another replica, at different event times).
 */
function rowsToInsert(rows: readonly EventRow[], stored: ReadonlySet<string>): EventRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = eventKey(r.agentId, r.seq);
    if (stored.has(k) || seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Inside the writing transaction: locks the agents' rows and returns the rows to insert, those
 * not stored in any partition yet, each (agent, seq) once. `agentIds`: the agents whose cursors
 * the transaction moves (their rows are locked too).
 */
export async function lockAgentsAndPickNew(query: TxQuery, rows: readonly EventRow[], agentIds: readonly string[]): Promise<EventRow[]> {
  return rowsToInsert(rows, await lockAgentsAndFindStored(query, rows, agentIds));
}

/**
 * The cursors with lastSeq raised to at least each agent's highest seq among `rows`: the mark
 * lockAgentsAndPickNew relies on then holds whatever a cursor says (a hostile or stale one).
 */
export function cursorsCoveringRows<C extends { agentId: string; lastSeq: number }>(cursors: readonly C[], rows: readonly EventRow[]): C[] {
  const high = new Map<string, number>();
  for (const r of rows) high.set(r.agentId, Math.max(high.get(r.agentId) ?? 0, r.seq));
  return cursors.map((c) => ({ ...c, lastSeq: Math.max(c.lastSeq, high.get(c.agentId) ?? 0) }));
}
