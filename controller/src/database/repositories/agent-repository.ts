import { In, type DataSource, type Repository } from "typeorm";
import { dialectOf } from "../dialect";
import { AgentEntity } from "../entities/agent.entity";

/** The agents table: one row per agent that ever connected, with its cursor and last status. */
export interface AgentRepository {
  byId(id: string): Promise<AgentEntity | null>;
  /** Host names of the agents found among `ids` (absent ids are left out). */
  hostnames(ids: readonly string[]): Promise<Map<string, string>>;
  /** Host names and tags of the agents found among `ids`, in one query (absent ids are left out). */
  labels(ids: readonly string[]): Promise<Map<string, { hostname: string; tags: string[] }>>;
  /** Every agent, by host name. */
  listByHostname(): Promise<AgentEntity[]>;
  /** A row for an agent never seen before (not stored until `save`). */
  fresh(id: string, now: number): AgentEntity;
  /**
   * Inserts a new agent or updates a known one. `keepStoredCursor`: the ack cursor columns
   * (acked_seq, gaps, missing_events) are left as stored and last_seq only moves up, so a
   * connect never writes back a cursor it read before a concurrent commit moved it. `isNew`: the
   * caller found no row (one INSERT; if another connect of the agent inserted it meanwhile, the
   * row is updated as with keepStoredCursor).
   */
  save(agent: AgentEntity, opts?: { keepStoredCursor?: boolean; isNew?: boolean }): Promise<void>;
  /** The admin's tags, kept over the enrollment token's from then on. */
  setAdminTags(id: string, tags: string[]): Promise<void>;
  /** Last-seen time and, when given, the agent's reported status. */
  recordSeen(id: string, lastSeen: number, status?: Record<string, unknown>): Promise<void>;
  /**
   * recordSeen for many agents in one statement per chunk: last_seen only moves forward, a status
   * given replaces the stored one. Unknown ids are ignored.
   */
  recordSeenMany(entries: readonly SeenEntry[]): Promise<void>;
  /** The highest seq stored for the agent at or below `atMost` (0 when none). */
  highestStoredSeq(id: string, atMost: number): Promise<number>;
}

export interface SeenEntry {
  id: string;
  lastSeen: number;
  status?: Record<string, unknown>;
}

/** Rows per statement: well under SQLite's bound on parameters (3 each) and a short PostgreSQL statement. */
const SEEN_CHUNK = 500;

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

  async labels(ids: readonly string[]): Promise<Map<string, { hostname: string; tags: string[] }>> {
    if (ids.length === 0) return new Map();
    const rows = await this.repo.find({ where: { id: In([...ids]) }, select: { id: true, hostname: true, tags: true } });
    return new Map(rows.map((r) => [r.id, { hostname: r.hostname, tags: r.tags }]));
  }

  listByHostname(): Promise<AgentEntity[]> {
    return this.repo.find({ order: { hostname: "ASC" } });
  }

  fresh(id: string, now: number): AgentEntity {
    return this.repo.create({ id, firstSeen: now, ackedSeq: 0, lastSeq: 0, gaps: [], missingEvents: 0, status: {} });
  }

  /**
   * A registration's write, in one statement: registrations of a whole fleet (a controller
   * restart, 10,000 agents in bench:scale) each waited out four round trips here (TypeORM's save:
   * BEGIN, SELECT, INSERT or UPDATE, COMMIT), and on a loaded host every round trip waits for the
   * event loop's turn.
   */
  async save(agent: AgentEntity, opts: { keepStoredCursor?: boolean; isNew?: boolean } = {}): Promise<void> {
    if (opts.isNew) {
      try {
        await this.repo.insert({ ...agent, status: agent.status as never });
        return;
      } catch (err) {
        // Another connect of the same new agent inserted it first: update it as a known one. Anything else is an error.
        if (!(await this.repo.existsBy({ id: agent.id }))) throw err;
        opts = { keepStoredCursor: true };
      }
    }
    if (!opts.keepStoredCursor) {
      await this.repo.save(agent);
      return;
    }
    // first_seen is written once, by the insert.
    const { ackedSeq: _acked, gaps: _gaps, missingEvents: _missing, firstSeen: _first, lastSeq, id, ...rest } = agent;
    await this.repo
      .createQueryBuilder()
      .update(AgentEntity)
      .set({ ...rest, status: rest.status as never, lastSeq: () => `${this.pg ? "GREATEST" : "MAX"}(last_seq, :vigilLastSeq)` })
      .setParameter("vigilLastSeq", lastSeq)
      .where("id = :vigilId", { vigilId: id })
      .execute();
  }

  async setAdminTags(id: string, tags: string[]): Promise<void> {
    await this.repo.update({ id }, { tags, adminTags: tags });
  }

  async recordSeen(id: string, lastSeen: number, status?: Record<string, unknown>): Promise<void> {
    await this.repo.update({ id }, status ? { lastSeen, status: status as never } : { lastSeen });
  }

  async recordSeenMany(entries: readonly SeenEntry[]): Promise<void> {
    // One row per id (an UPDATE … FROM applies only one source row per target row): the latest time, the last status given.
    const byId = new Map<string, SeenEntry>();
    for (const e of entries) {
      const prev = byId.get(e.id);
      byId.set(e.id, { id: e.id, lastSeen: Math.max(e.lastSeen, prev?.lastSeen ?? 0), status: e.status ?? prev?.status });
    }
    // Ascending ids: two writers of overlapping sets then lock rows in the same order.
    const sorted = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (let i = 0; i < sorted.length; i += SEEN_CHUNK) {
      const chunk = sorted.slice(i, i + SEEN_CHUNK);
      const statuses = chunk.map((e) => (e.status ? JSON.stringify(e.status) : null));
      if (this.pg) {
        const ids = chunk.map((e) => e.id);
        await this.repo.manager.transaction(async (m) => {
          // Rows locked in id order first (an UPDATE … FROM locks in its plan's order), as storage's cursor updates do.
          await m.query(`SELECT 1 FROM agents WHERE id = ANY($1::varchar[]) ORDER BY id FOR UPDATE`, [ids]);
          await m.query(
            `UPDATE agents a SET last_seen = GREATEST(a.last_seen, v.seen), status = COALESCE(v.status, a.status)
             FROM unnest($1::varchar[], $2::bigint[], $3::text[]) AS v(id, seen, status) WHERE a.id = v.id`,
            [ids, chunk.map((e) => e.lastSeen), statuses],
          );
        });
      } else {
        const values = chunk.map(() => "(?, ?, ?)").join(", ");
        await this.repo.manager.query(
          `WITH v(id, seen, status) AS (VALUES ${values})
           UPDATE agents SET last_seen = MAX(agents.last_seen, v.seen), status = COALESCE(v.status, agents.status) FROM v WHERE agents.id = v.id`,
          chunk.flatMap((e, j) => [e.id, e.lastSeen, statuses[j]]),
        );
      }
    }
  }

  async highestStoredSeq(id: string, atMost: number): Promise<number> {
    const rows = (await this.repo.manager.query(`SELECT MAX(seq) AS m FROM events WHERE agent_id = ${this.pg ? "$1" : "?"} AND seq <= ${this.pg ? "$2" : "?"}`, [id, atMost])) as Array<{
      m: number | string | null;
    }>;
    return Number(rows[0]?.m ?? 0);
  }
}
