import { In, type DataSource, type Repository } from "typeorm";
import { dialectOf } from "../dialect";
import { lostRace } from "../sql-batch";
import { AgentEntity } from "../entities/agent.entity";

/** The agents table: one row per agent that ever connected, with its cursor and last status. */
export interface AgentRepository {
  byId(id: string): Promise<AgentEntity | null>;
  /** The rows of the agents found among `ids`, in one query per chunk (absent ids are left out). */
  byIds(ids: readonly string[]): Promise<AgentEntity[]>;
  /** Host names of the agents found among `ids` (absent ids are left out). */
  hostnames(ids: readonly string[]): Promise<Map<string, string>>;
  /** Host names and tags of the agents found among `ids`, in one query (absent ids are left out). */
  labels(ids: readonly string[]): Promise<Map<string, { hostname: string; tags: string[] }>>;
  /** Every agent, by host name. */
  listByHostname(): Promise<AgentEntity[]>;
  /** A row for an agent never seen before (not stored until `save`). */
  fresh(id: string, now: number): AgentEntity;
  /** Writes the whole row, cursor included: only where the caller owns the cursor (a healed one). */
  save(agent: AgentEntity): Promise<void>;
  /**
   * Registrations' writes, one statement per chunk: a new agent's row is inserted whole; a known
   * agent's is updated keeping what storage owns or only moves forward: the cursor columns
   * (acked_seq, gaps, missing_events) and first_seen are left as stored, last_seq and last_seen
   * only move up (a connect never writes back a cursor it read before a concurrent commit moved
   * it), and the admin's tags, if set, stay the tags.
   */
  saveRegistrations(agents: readonly AgentEntity[]): Promise<void>;
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
/** Rows per registrations' upsert (18 parameters each): under SQLite's 32,766 and PostgreSQL's 65,535. */
const REGISTRATION_CHUNK = 250;
/** Ids per IN (…) list. */
const ID_CHUNK = 500;
/** Attempts of a registrations' upsert that PostgreSQL rolled back as a deadlock's loser. */
const UPSERT_ATTEMPTS = 4;

/** The agents' columns a registration writes, in the upsert's order. */
const REGISTRATION_COLUMNS = [
  "id",
  "hostname",
  "os",
  "kernel",
  "arch",
  "agent_version",
  "ip_addresses",
  "tags",
  "admin_tags",
  "self_reported_tags",
  "boot_time",
  "first_seen",
  "last_seen",
  "acked_seq",
  "last_seq",
  "status",
  "gaps",
  "missing_events",
] as const;

/** A row's values in REGISTRATION_COLUMNS order; a field left unset gets the column's default (as TypeORM's insert would). */
function registrationValues(a: AgentEntity): unknown[] {
  return [
    a.id,
    a.hostname ?? "",
    a.os ?? "",
    a.kernel ?? "",
    a.arch ?? "",
    a.agentVersion ?? "",
    JSON.stringify(a.ipAddresses ?? []),
    JSON.stringify(a.tags ?? []),
    a.adminTags ? JSON.stringify(a.adminTags) : null,
    JSON.stringify(a.selfReportedTags ?? []),
    a.bootTime ?? 0,
    a.firstSeen,
    a.lastSeen,
    a.ackedSeq ?? 0,
    a.lastSeq ?? 0,
    JSON.stringify(a.status ?? {}),
    JSON.stringify(a.gaps ?? []),
    a.missingEvents ?? 0,
  ];
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

  async byIds(ids: readonly string[]): Promise<AgentEntity[]> {
    const out: AgentEntity[] = [];
    for (let i = 0; i < ids.length; i += ID_CHUNK) out.push(...(await this.repo.findBy({ id: In(ids.slice(i, i + ID_CHUNK)) })));
    return out;
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

  async save(agent: AgentEntity): Promise<void> {
    await this.repo.save(agent);
  }

  /**
   * One INSERT … ON CONFLICT DO UPDATE per chunk, for new and known agents alike: registrations
   * of a whole fleet each waited out a round trip (four, with TypeORM's save) here, and on a
   * loaded host every round trip waits for the event loop's turn. Rows go in id order, the order
   * storage and the last-seen writer lock agents' rows in, so the upsert waits for them instead of
   * deadlocking; PostgreSQL's rare deadlock loser is run again (the statement carries absolute values).
   */
  async saveRegistrations(agents: readonly AgentEntity[]): Promise<void> {
    const byId = new Map(agents.map((a) => [a.id, a]));
    const sorted = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const cols = REGISTRATION_COLUMNS.length;
    const up = this.pg ? "GREATEST" : "MAX";
    for (let i = 0; i < sorted.length; i += REGISTRATION_CHUNK) {
      const chunk = sorted.slice(i, i + REGISTRATION_CHUNK);
      const rows = chunk.map((_, r) => `(${Array.from({ length: cols }, (_, c) => (this.pg ? `$${r * cols + c + 1}` : "?")).join(", ")})`);
      const sql = `INSERT INTO agents (${REGISTRATION_COLUMNS.join(", ")}) VALUES ${rows.join(", ")}
        ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, os = excluded.os, kernel = excluded.kernel, arch = excluded.arch,
          agent_version = excluded.agent_version, ip_addresses = excluded.ip_addresses, tags = COALESCE(agents.admin_tags, excluded.tags),
          self_reported_tags = excluded.self_reported_tags, boot_time = excluded.boot_time, status = excluded.status,
          last_seen = ${up}(agents.last_seen, excluded.last_seen), last_seq = ${up}(agents.last_seq, excluded.last_seq)`;
      const params = chunk.flatMap(registrationValues);
      for (let attempt = 1; ; attempt++) {
        try {
          await this.repo.manager.query(sql, params);
          break;
        } catch (err) {
          if (!this.pg || attempt >= UPSERT_ATTEMPTS || !lostRace(err)) throw err;
        }
      }
    }
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
