import type { DataSource, Repository } from "typeorm";
import type { AlertVerdict } from "../entities/alert.entity";
import { CaseEntity, type CaseState } from "../entities/case.entity";
import { SqlBatch, type Stmt } from "../sql-batch";

/** A case as detection's chaining keeps it: what a write of the row needs. */
export interface CaseRecord {
  id: string;
  title: string;
  state: CaseState;
  score: number;
  /** Entity keys of all its alerts (capped by the caller). */
  entities: readonly string[];
  alertCount: number;
  firstSeen: number;
  lastSeen: number;
  createdAt: number;
}

/** A page of the case list: newest activity first, after the cursor. */
export interface CaseFilter {
  state?: CaseState;
  minScore?: number;
  limit: number;
  cursor?: { lastSeen: number; id: string };
}

/** An analyst's change of a case's state. */
export interface CaseStateChange {
  state: "acknowledged" | "resolved";
  verdict: AlertVerdict | null;
  /** On resolve, given to the case's alerts that have no verdict of their own. */
  alertVerdict: AlertVerdict | null;
  resolvedBy: string | null;
  now: number;
}

/**
 * The cases table. Writes of detection's chaining are returned as statements, not run: they go in
 * the same transaction as the chunk's alerts (the alert service commits them with SqlBatch).
 */
export interface CaseRepository {
  /** Cases not yet resolved: the state chaining starts from. */
  unresolved(): Promise<CaseEntity[]>;
  byId(id: string): Promise<CaseEntity | null>;
  page(f: CaseFilter): Promise<CaseEntity[]>;
  /** The statement that creates the case. */
  insertWrite(c: CaseRecord, now: number): Stmt;
  /** The statement that updates the case's chaining fields: never its title (set once, or renamed) nor its state. */
  updateWrite(c: CaseRecord, now: number): Stmt;
  /** An analyst's title. */
  rename(id: string, title: string, now: number): Promise<void>;
  /** Changes state and verdict; resolving also resolves the case's open alerts, in one transaction. */
  setState(id: string, change: CaseStateChange): Promise<void>;
}

export class SqlCaseRepository implements CaseRepository {
  constructor(
    private readonly repo: Repository<CaseEntity>,
    private readonly batch: SqlBatch,
  ) {}

  static of(ds: DataSource, batch: SqlBatch = new SqlBatch(ds)): SqlCaseRepository {
    return new SqlCaseRepository(ds.getRepository(CaseEntity), batch);
  }

  unresolved(): Promise<CaseEntity[]> {
    return this.repo.createQueryBuilder("c").where("c.state <> :r", { r: "resolved" }).getMany();
  }

  byId(id: string): Promise<CaseEntity | null> {
    return this.repo.findOneBy({ id });
  }

  page(f: CaseFilter): Promise<CaseEntity[]> {
    const qb = this.repo.createQueryBuilder("c").orderBy("c.last_seen", "DESC").addOrderBy("c.id", "DESC").take(f.limit);
    if (f.state) qb.andWhere("c.state = :state", { state: f.state });
    if (f.minScore !== undefined) qb.andWhere("c.score >= :ms", { ms: f.minScore });
    if (f.cursor) qb.andWhere("(c.last_seen < :cl OR (c.last_seen = :cl AND c.id < :cid))", { cl: f.cursor.lastSeen, cid: f.cursor.id });
    return qb.getMany();
  }

  insertWrite(c: CaseRecord, now: number): Stmt {
    return {
      sql: `INSERT INTO cases (id, title, state, verdict, score, entities, alert_count, first_seen, last_seen, created_at, updated_at) VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)`,
      params: [c.id, c.title, c.state, c.score, JSON.stringify(c.entities), c.alertCount, c.firstSeen, c.lastSeen, c.createdAt, now],
    };
  }

  updateWrite(c: CaseRecord, now: number): Stmt {
    return {
      sql: `UPDATE cases SET score = ?, entities = ?, alert_count = ?, first_seen = ?, last_seen = ?, updated_at = ? WHERE id = ?`,
      params: [c.score, JSON.stringify(c.entities), c.alertCount, c.firstSeen, c.lastSeen, now, c.id],
    };
  }

  async rename(id: string, title: string, now: number): Promise<void> {
    await this.batch.run([{ sql: `UPDATE cases SET title = ?, updated_at = ? WHERE id = ?`, params: [title, now, id] }]);
  }

  async setState(id: string, change: CaseStateChange): Promise<void> {
    const stmts: Stmt[] = [{ sql: `UPDATE cases SET state = ?, verdict = ?, resolved_by = ?, updated_at = ? WHERE id = ?`, params: [change.state, change.verdict, change.resolvedBy, change.now, id] }];
    if (change.state === "resolved") {
      // A resolved story takes its alerts with it, so later activity opens a fresh alert and case.
      stmts.push({
        sql: `UPDATE alerts SET state = 'resolved', verdict = COALESCE(verdict, ?), updated_at = ? WHERE case_id = ? AND state <> 'resolved'`,
        params: [change.alertVerdict, change.now, id],
      });
    }
    await this.batch.run(stmts);
  }
}
