import type { Repository } from "typeorm";
import { entityViews } from "../agents/host-names";
import { AlertEntity, type AlertState } from "../database/entities/alert.entity";
import { newestEventRef } from "./event-refs";

export interface AlertFilter {
  minScore?: number;
  ruleId?: string;
  agentId?: string;
  /** "kind:value" matches any of the alert's entities; a bare value matches the primary entity. */
  entity?: string;
  state?: AlertState;
  /** Event time (last seen) bounds, ms. */
  since?: number;
  until?: number;
  caseId?: string;
  limit: number;
  /** Continue strictly after (lastSeen, id), newest first. */
  cursor?: { lastSeen: number; id: string };
  /** "score": highest score first (then most recent); the cursor then also carries the score. */
  sort?: "recent" | "score";
  scoreCursor?: { score: number; lastSeen: number; id: string };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function alertView(a: AlertEntity): Record<string, unknown> {
  return {
    id: a.id,
    rule: { id: a.ruleId, title: a.ruleTitle, level: a.ruleLevel, tags: a.ruleTags },
    kind: a.kind,
    correlationType: a.correlationType,
    agentId: a.agentId,
    hostname: a.hostname,
    // A host entity is the alert's own agent: it carries the hostname the alert was raised with.
    entity: a.entityKind === "host" ? { kind: a.entityKind, value: a.entityValue, hostname: a.entityValue === a.agentId ? a.hostname : "" } : { kind: a.entityKind, value: a.entityValue },
    entities: entityViews(a.entities, new Map([[a.agentId, a.hostname]])),
    dedupKey: a.dedupKey,
    score: a.score,
    breakdown: a.breakdown,
    count: a.count,
    firstSeen: iso(a.firstSeen),
    lastSeen: iso(a.lastSeen),
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
    state: a.state,
    verdict: a.verdict,
    caseId: a.caseId,
    groupBy: a.groupBy,
    iocHits: a.iocHits,
    eventRefs: a.eventRefs,
    newestEventRef: newestEventRef(a.eventRefs),
    events: a.eventFields,
  };
}

/** Alert reads for the API (TypeORM; not on the detection path). */
export class AlertQuery {
  constructor(private readonly repo: Repository<AlertEntity>) {}

  async list(f: AlertFilter): Promise<AlertEntity[]> {
    const qb = this.repo.createQueryBuilder("a");
    if (f.sort === "score") qb.orderBy("a.score", "DESC").addOrderBy("a.last_seen", "DESC").addOrderBy("a.id", "DESC");
    else qb.orderBy("a.last_seen", "DESC").addOrderBy("a.id", "DESC");
    qb.take(f.limit);
    if (f.minScore !== undefined) qb.andWhere("a.score >= :minScore", { minScore: f.minScore });
    if (f.ruleId) qb.andWhere("a.rule_id = :ruleId", { ruleId: f.ruleId });
    if (f.agentId) qb.andWhere("a.agent_id = :agentId", { agentId: f.agentId });
    if (f.state) qb.andWhere("a.state = :state", { state: f.state });
    if (f.caseId) qb.andWhere("a.case_id = :caseId", { caseId: f.caseId });
    if (f.since !== undefined) qb.andWhere("a.last_seen >= :since", { since: f.since });
    if (f.until !== undefined) qb.andWhere("a.last_seen < :until", { until: f.until });
    if (f.entity) {
      const colon = f.entity.indexOf(":");
      if (colon > 0) {
        // entities is a JSON array of "kind:value" strings; the quotes anchor the match.
        const like = `%${JSON.stringify(f.entity).replace(/[\\%_]/g, (c) => "\\" + c)}%`;
        qb.andWhere("a.entities LIKE :ent ESCAPE '\\'", { ent: like });
      } else qb.andWhere("a.entity_value = :ev", { ev: f.entity });
    }
    if (f.cursor) {
      qb.andWhere("(a.last_seen < :cl OR (a.last_seen = :cl AND a.id < :cid))", { cl: f.cursor.lastSeen, cid: f.cursor.id });
    }
    if (f.scoreCursor) {
      const c = f.scoreCursor;
      qb.andWhere("(a.score < :cs OR (a.score = :cs AND (a.last_seen < :cl OR (a.last_seen = :cl AND a.id < :cid))))", { cs: c.score, cl: c.lastSeen, cid: c.id });
    }
    return qb.getMany();
  }

  get(id: string): Promise<AlertEntity | null> {
    return this.repo.findOneBy({ id });
  }

  byCase(caseId: string): Promise<AlertEntity[]> {
    return this.repo.find({ where: { caseId }, order: { firstSeen: "ASC" } });
  }
}
