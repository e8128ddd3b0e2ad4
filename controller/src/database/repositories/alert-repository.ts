import type { ScoreFactor } from "@vigil/detection";
import type { DataSource, Repository } from "typeorm";
import { AlertEntity, AlertFeedbackEntity, type AlertIocHit, type AlertState, type AlertVerdict, type EventRef } from "../entities/alert.entity";
import { SqlBatch, type Stmt } from "../sql-batch";

/** The open alert a dedup key points at, as far as merging needs. */
export interface OpenAlertRow {
  id: string;
  firstSeen: number;
  lastSeen: number;
  count: number;
  state: AlertState;
  eventRefs: EventRef[];
  eventFields: Record<string, unknown>[];
}

/** A new alert row. Text longer than its column is cut here, where the widths are known. */
export interface NewAlertRow {
  id: string;
  ruleId: string;
  ruleTitle: string;
  ruleLevel: string;
  ruleTags: readonly string[];
  kind: string;
  correlationType: string | null;
  agentId: string;
  hostname: string;
  entityKind: string;
  entityValue: string;
  /** Entity keys, primary first. */
  entities: readonly string[];
  dedupKey: string;
  score: number;
  breakdown: readonly ScoreFactor[];
  count: number;
  firstSeen: number;
  lastSeen: number;
  createdAt: number;
  caseId: string;
  eventRefs: readonly EventRef[];
  eventFields: readonly Record<string, unknown>[];
  groupBy: Record<string, unknown> | null;
  iocHits: readonly AlertIocHit[];
}

/** What a merge (or a correlation's revision) changes on an existing alert. */
export interface AlertMerge {
  id: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  eventRefs: readonly EventRef[];
  eventFields: readonly Record<string, unknown>[];
}

/** One analyst verdict, kept as history. */
export interface FeedbackRecord {
  alertId: string;
  ruleId: string;
  entityKey: string;
  verdict: AlertVerdict;
  note: string | null;
  actor: string;
  createdAt: number;
  suppressionId: string | null;
}

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

/** The alerts table and its feedback history. */
export interface AlertRepository {
  byId(id: string): Promise<AlertEntity | null>;
  /** A page of alerts for the API: filtered, newest (or highest score) first, after the cursor. */
  page(f: AlertFilter): Promise<AlertEntity[]>;
  /** A case's alerts, oldest first. */
  byCase(caseId: string): Promise<AlertEntity[]>;
  /** The newest unresolved alert with this dedup key. */
  openByDedupKey(dedupKey: string): Promise<OpenAlertRow | undefined>;
  /**
   * A detection chunk: new alerts, merges into existing ones and the chunk's other writes (cases,
   * risk, baselines, suppression hits) in one transaction: all stored, or none.
   */
  upsertBatch(inserts: readonly NewAlertRow[], merges: readonly AlertMerge[], also: readonly Stmt[], now: number): Promise<void>;
  /** new → acknowledged; an alert in any other state is left as it is. */
  acknowledge(id: string, now: number): Promise<void>;
  /** Verdict and the state it implies, with `also` (the feedback weight) in the same transaction. */
  setVerdict(id: string, verdict: AlertVerdict, state: AlertState, now: number, also: readonly Stmt[]): Promise<void>;
  /** Records a verdict; returns its id. */
  recordFeedback(f: FeedbackRecord): Promise<string>;
  feedbackHistory(alertId: string): Promise<AlertFeedbackEntity[]>;
}

export class SqlAlertRepository implements AlertRepository {
  constructor(
    private readonly alerts: Repository<AlertEntity>,
    private readonly feedback: Repository<AlertFeedbackEntity>,
    private readonly batch: SqlBatch,
  ) {}

  static of(ds: DataSource, batch: SqlBatch = new SqlBatch(ds)): SqlAlertRepository {
    return new SqlAlertRepository(ds.getRepository(AlertEntity), ds.getRepository(AlertFeedbackEntity), batch);
  }

  byId(id: string): Promise<AlertEntity | null> {
    return this.alerts.findOneBy({ id });
  }

  page(f: AlertFilter): Promise<AlertEntity[]> {
    const qb = this.alerts.createQueryBuilder("a");
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

  byCase(caseId: string): Promise<AlertEntity[]> {
    return this.alerts.find({ where: { caseId }, order: { firstSeen: "ASC" } });
  }

  async openByDedupKey(dedupKey: string): Promise<OpenAlertRow | undefined> {
    const rows = await this.batch.query<Record<string, unknown>>(
      `SELECT id, first_seen, last_seen, count, state, event_refs, event_fields FROM alerts WHERE dedup_key = ? AND state <> 'resolved' ORDER BY last_seen DESC LIMIT 1`,
      [dedupKey],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      id: String(r.id),
      firstSeen: Number(r.first_seen),
      lastSeen: Number(r.last_seen),
      count: Number(r.count),
      state: r.state as AlertState,
      eventRefs: JSON.parse(String(r.event_refs)) as EventRef[],
      eventFields: JSON.parse(String(r.event_fields)) as Record<string, unknown>[],
    };
  }

  async upsertBatch(inserts: readonly NewAlertRow[], merges: readonly AlertMerge[], also: readonly Stmt[], now: number): Promise<void> {
    const stmts: Stmt[] = inserts.map((a) => insertStmt(a, now));
    for (const o of merges) {
      stmts.push({
        sql: `UPDATE alerts SET count = ?, first_seen = ?, last_seen = ?, updated_at = ?, event_refs = ?, event_fields = ? WHERE id = ?`,
        params: [o.count, o.firstSeen, o.lastSeen, now, JSON.stringify(o.eventRefs), JSON.stringify(o.eventFields), o.id],
      });
    }
    stmts.push(...also);
    await this.batch.run(stmts);
  }

  async acknowledge(id: string, now: number): Promise<void> {
    await this.batch.run([{ sql: `UPDATE alerts SET state = 'acknowledged', updated_at = ? WHERE id = ? AND state = 'new'`, params: [now, id] }]);
  }

  async setVerdict(id: string, verdict: AlertVerdict, state: AlertState, now: number, also: readonly Stmt[]): Promise<void> {
    await this.batch.run([...also, { sql: `UPDATE alerts SET verdict = ?, state = ?, updated_at = ? WHERE id = ?`, params: [verdict, state, now, id] }]);
  }

  async recordFeedback(f: FeedbackRecord): Promise<string> {
    const rec = await this.feedback.save({ ...f }, { transaction: false });
    return String(rec.id);
  }

  feedbackHistory(alertId: string): Promise<AlertFeedbackEntity[]> {
    return this.feedback.find({ where: { alertId }, order: { createdAt: "ASC" } });
  }
}

function insertStmt(a: NewAlertRow, now: number): Stmt {
  return {
    sql: `INSERT INTO alerts (id, rule_id, rule_title, rule_level, rule_tags, kind, correlation_type, agent_id, hostname, entity_kind, entity_value, entities,
            dedup_key, score, breakdown, count, first_seen, last_seen, created_at, updated_at, state, verdict, case_id, event_refs, event_fields, group_by, ioc_hits)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', NULL, ?, ?, ?, ?, ?)`,
    params: [
      a.id,
      a.ruleId.slice(0, 128),
      a.ruleTitle.slice(0, 512),
      a.ruleLevel,
      JSON.stringify(a.ruleTags),
      a.kind,
      a.correlationType,
      a.agentId,
      a.hostname.slice(0, 255),
      a.entityKind,
      a.entityValue.slice(0, 255),
      JSON.stringify(a.entities),
      a.dedupKey.slice(0, 700),
      a.score,
      JSON.stringify(a.breakdown),
      a.count,
      a.firstSeen,
      a.lastSeen,
      a.createdAt,
      now,
      a.caseId,
      JSON.stringify(a.eventRefs),
      JSON.stringify(a.eventFields),
      a.groupBy ? JSON.stringify(a.groupBy) : null,
      JSON.stringify(a.iocHits),
    ],
  };
}
