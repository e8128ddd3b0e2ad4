import Database from "better-sqlite3";
import { Client } from "pg";

export interface StoredSeq {
  seq: number;
  type: string;
  /** The synthetic number the event carries (attributes.n, "synthetic n=..."), or 0. */
  n: number;
}

export interface AgentRow {
  ackedSeq: number;
  lastSeq: number;
  gaps: Array<[number, number]>;
  status: Record<string, any>;
}

/**
 * Reads what the controller stored, straight from its database (SQLite or
 * PostgreSQL), independent of the controller's own API and caches.
 */
export interface EventDb {
  events(agentId: string): Promise<StoredSeq[]>;
  totals(agentId: string): Promise<{ count: number; distinct: number; min: number; max: number }>;
  agent(agentId: string): Promise<AgentRow | undefined>;
  close(): Promise<void>;
}

function numberOf(type: string, data: Record<string, any>): number {
  const text = type === "agent" ? `n=${data.attributes?.n ?? ""}` : type === "process" ? String(data.commandLine ?? "") : type === "auth" ? String(data.raw ?? "") : "";
  const m = /n=(\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

function parse(v: unknown): any {
  return typeof v === "string" ? JSON.parse(v) : v;
}

export async function openEventDb(url: string): Promise<EventDb> {
  let query: (sql: string, params: unknown[]) => Promise<Array<Record<string, unknown>>>;
  let close: () => Promise<void>;
  if (url.startsWith("sqlite:")) {
    const db = new Database(url.slice("sqlite:".length), { readonly: true, fileMustExist: true });
    db.pragma("busy_timeout = 5000");
    query = async (sql, params) => db.prepare(sql.replace(/\$\d+/g, "?")).all(...params) as Array<Record<string, unknown>>;
    close = async () => void db.close();
  } else {
    const c = new Client({ connectionString: url });
    await c.connect();
    query = async (sql, params) => (await c.query(sql, params)).rows as Array<Record<string, unknown>>;
    close = () => c.end();
  }
  return {
    async events(agentId) {
      const rows = await query(`SELECT seq, type, data FROM events WHERE agent_id = $1 ORDER BY seq`, [agentId]);
      return rows.map((r) => ({ seq: Number(r.seq), type: String(r.type), n: numberOf(String(r.type), parse(r.data)) }));
    },
    async totals(agentId) {
      const [r] = await query(`SELECT COUNT(*) AS c, COUNT(DISTINCT seq) AS d, MIN(seq) AS lo, MAX(seq) AS hi FROM events WHERE agent_id = $1`, [agentId]);
      return { count: Number(r!.c), distinct: Number(r!.d), min: Number(r!.lo ?? 0), max: Number(r!.hi ?? 0) };
    },
    async agent(agentId) {
      const [r] = await query(`SELECT acked_seq, last_seq, gaps, status FROM agents WHERE id = $1`, [agentId]);
      if (!r) return undefined;
      return { ackedSeq: Number(r.acked_seq), lastSeq: Number(r.last_seq), gaps: parse(r.gaps) ?? [], status: parse(r.status) ?? {} };
    },
    close,
  };
}
