import type { DataSource } from "typeorm";
import { dialectOf } from "../dialect";

export interface StoredInventory {
  agentId: string;
  collectedAt: number;
  receivedAt: number;
  reason: string;
  /** The bounded inventory, every field present (proto JSON would drop zeros, such as root's uid). */
  body: Record<string, unknown>;
}

/** The latest inventory of each agent: one row per agent, replaced on every new one. */
export class InventoryRepository {
  private readonly pg: boolean;

  constructor(private readonly ds: DataSource) {
    this.pg = dialectOf(ds) === "postgres";
  }

  async upsert(row: StoredInventory): Promise<void> {
    const p = this.pg ? ["$1", "$2", "$3", "$4", "$5"] : ["?", "?", "?", "?", "?"];
    await this.ds.query(
      `INSERT INTO agent_inventories (agent_id, collected_at, received_at, reason, body) VALUES (${p.join(", ")})
       ON CONFLICT (agent_id) DO UPDATE SET collected_at = excluded.collected_at, received_at = excluded.received_at, reason = excluded.reason, body = excluded.body`,
      [row.agentId, row.collectedAt, row.receivedAt, row.reason, JSON.stringify(row.body)],
    );
  }

  async get(agentId: string): Promise<StoredInventory | undefined> {
    const rows = (await this.ds.query(`SELECT agent_id, collected_at, received_at, reason, body FROM agent_inventories WHERE agent_id = ${this.pg ? "$1" : "?"}`, [agentId])) as Array<
      Record<string, unknown>
    >;
    const r = rows[0];
    if (!r) return undefined;
    return {
      agentId: String(r.agent_id),
      collectedAt: Number(r.collected_at),
      receivedAt: Number(r.received_at),
      reason: String(r.reason),
      body: JSON.parse(String(r.body)) as Record<string, unknown>,
    };
  }
}
