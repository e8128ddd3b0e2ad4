import type { DataSource, Repository } from "typeorm";
import { AuditRecordEntity } from "../entities";

/** One audit record as stored; the chain (hashes, key, checkpoints) is audit/'s. */
export interface StoredAuditRecord {
  seq: number;
  time: number;
  actor: string;
  action: string;
  target: string;
  /** Canonical JSON text, verbatim. */
  details: string;
  prevHash: string;
  hash: string;
}

export interface AuditQuery {
  action?: string;
  actor?: string;
  since?: number;
  until?: number;
  limit: number;
  /** Return records with seq below this (newest-first paging). */
  beforeSeq?: number;
}

/** The audit_log table: append-only, seq is unique so two writers cannot both take the next link. */
export class AuditRepository {
  constructor(private readonly repo: Repository<AuditRecordEntity>) {}

  static of(ds: DataSource): AuditRepository {
    return new AuditRepository(ds.getRepository(AuditRecordEntity));
  }

  /** The record with the highest seq (the chain's head), if any. */
  async head(): Promise<StoredAuditRecord | undefined> {
    const row = (await this.repo.find({ order: { seq: "DESC" }, take: 1 }))[0];
    return row && plain(row);
  }

  async bySeq(seq: number): Promise<StoredAuditRecord | undefined> {
    const row = await this.repo.findOneBy({ seq });
    return row ? plain(row) : undefined;
  }

  /** Seq of the first record with this action (the keyed-chain marker), if any. */
  async firstSeqOf(action: string): Promise<number | undefined> {
    return (await this.repo.findOne({ where: { action }, order: { seq: "ASC" } }))?.seq;
  }

  /**
   * Writes the records in one statement. False when another writer already took one of their seqs
   * (the caller re-reads the head and tries again); any other failure throws.
   */
  async append(records: readonly StoredAuditRecord[]): Promise<boolean> {
    try {
      await this.repo.insert(records.map((r) => ({ ...r })));
      return true;
    } catch (err) {
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /** Newest first, filtered. */
  async query(q: AuditQuery): Promise<StoredAuditRecord[]> {
    const qb = this.repo.createQueryBuilder("a").orderBy("a.seq", "DESC").take(q.limit);
    if (q.action) qb.andWhere("a.action = :action", { action: q.action });
    if (q.actor) qb.andWhere("a.actor = :actor", { actor: q.actor });
    if (q.since !== undefined) qb.andWhere("a.time >= :since", { since: q.since });
    if (q.until !== undefined) qb.andWhere("a.time < :until", { until: q.until });
    if (q.beforeSeq !== undefined) qb.andWhere("a.seq < :before", { before: q.beforeSeq });
    return (await qb.getMany()).map(plain);
  }

  /** Up to `take` records with seq above `afterSeq`, in chain order (a page for export and verify). */
  async range(afterSeq: number, take: number): Promise<StoredAuditRecord[]> {
    return (await this.repo.createQueryBuilder("a").where("a.seq > :after", { after: afterSeq }).orderBy("a.seq", "ASC").take(take).getMany()).map(plain);
  }
}

function plain(e: AuditRecordEntity): StoredAuditRecord {
  return { seq: e.seq, time: e.time, actor: e.actor, action: e.action, target: e.target, details: e.details, prevHash: e.prevHash, hash: e.hash };
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  const code = e.driverError?.code ?? e.code ?? "";
  return code === "23505" || code.startsWith("SQLITE_CONSTRAINT");
}
