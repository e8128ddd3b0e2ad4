import { In, type DataSource, type Repository } from "typeorm";
import { dialectOf } from "../dialect";
import { AgentEntity } from "../entities/agent.entity";

/** The agents table: one row per agent that ever connected, with its cursor and last status. */
export interface AgentRepository {
  byId(id: string): Promise<AgentEntity | null>;
  /** Host names of the agents found among `ids` (absent ids are left out). */
  hostnames(ids: readonly string[]): Promise<Map<string, string>>;
  /** Every agent, by host name. */
  listByHostname(): Promise<AgentEntity[]>;
  /** A row for an agent never seen before (not stored until `save`). */
  fresh(id: string, now: number): AgentEntity;
  /**
   * Inserts a new agent or updates a known one. `keepStoredCursor`: the ack cursor columns
   * (acked_seq, gaps, missing_events) are left as stored and last_seq only moves up, so a
   * connect never writes back a cursor it read before a concurrent commit moved it.
   */
  save(agent: AgentEntity, opts?: { keepStoredCursor?: boolean }): Promise<void>;
  /** The admin's tags, kept over the enrollment token's from then on. */
  setAdminTags(id: string, tags: string[]): Promise<void>;
  /** Last-seen time and, when given, the agent's reported status. */
  recordSeen(id: string, lastSeen: number, status?: Record<string, unknown>): Promise<void>;
  /** The highest seq stored for the agent at or below `atMost` (0 when none). */
  highestStoredSeq(id: string, atMost: number): Promise<number>;
}

export class SqlAgentRepository implements AgentRepository {
  private readonly pg: boolean;

  constructor(private readonly repo: Repository<AgentEntity>) {
    this.pg = dialectOf(repo.manager.connection) === "postgres";
  }

  static of(ds: DataSource): SqlAgentRepository {
    return new SqlAgentRepository(ds.getRepository(AgentEntity));
  }

  byId(id: string): Promise<AgentEntity | null> {
    return this.repo.findOneBy({ id });
  }

  async hostnames(ids: readonly string[]): Promise<Map<string, string>> {
    const rows = await this.repo.find({ where: { id: In([...ids]) }, select: { id: true, hostname: true } });
    return new Map(rows.map((r) => [r.id, r.hostname]));
  }

  listByHostname(): Promise<AgentEntity[]> {
    return this.repo.find({ order: { hostname: "ASC" } });
  }

  fresh(id: string, now: number): AgentEntity {
    return this.repo.create({ id, firstSeen: now, ackedSeq: 0, lastSeq: 0, gaps: [], missingEvents: 0, status: {} });
  }

  async save(agent: AgentEntity, opts: { keepStoredCursor?: boolean } = {}): Promise<void> {
    if (!opts.keepStoredCursor) {
      await this.repo.save(agent);
      return;
    }
    const { ackedSeq: _acked, gaps: _gaps, missingEvents: _missing, lastSeq, id, ...rest } = agent;
    await this.repo.manager.transaction(async (m) => {
      await m.update(AgentEntity, { id }, { ...rest, status: rest.status as never });
      await m.query(`UPDATE agents SET last_seq = ${this.pg ? "GREATEST" : "MAX"}(last_seq, ${this.pg ? "$1" : "?"}) WHERE id = ${this.pg ? "$2" : "?"}`, [lastSeq, id]);
    });
  }

  async setAdminTags(id: string, tags: string[]): Promise<void> {
    await this.repo.update({ id }, { tags, adminTags: tags });
  }

  async recordSeen(id: string, lastSeen: number, status?: Record<string, unknown>): Promise<void> {
    await this.repo.update({ id }, status ? { lastSeen, status: status as never } : { lastSeen });
  }

  async highestStoredSeq(id: string, atMost: number): Promise<number> {
    const rows = (await this.repo.manager.query(`SELECT MAX(seq) AS m FROM events WHERE agent_id = ${this.pg ? "$1" : "?"} AND seq <= ${this.pg ? "$2" : "?"}`, [id, atMost])) as Array<{
      m: number | string | null;
    }>;
    return Number(rows[0]?.m ?? 0);
  }
}
