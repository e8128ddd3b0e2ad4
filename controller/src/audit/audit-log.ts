import type { DataSource, Repository } from "typeorm";
import { AuditRecordEntity } from "../database/entities";
import { ChainVerifier, GENESIS_HASH, recordHash, type AuditEntry, type AuditRecord, type VerifyResult } from "./audit-chain";
import { canonicalJson } from "./canonical-json";

export type { AuditEntry, AuditRecord, VerifyResult };

export interface AuditQuery {
  action?: string;
  actor?: string;
  since?: number;
  until?: number;
  limit: number;
  /** Return records with seq below this (newest-first paging). */
  beforeSeq?: number;
}

const MAX_DETAILS = 16 * 1024;

/**
 * The append-only, hash-chained audit trail. Appends are serialised in this
 * process through one promise queue; across processes (the CLI writes too) the
 * UNIQUE seq makes a concurrent writer fail instead of forking the chain, and
 * the append retries on the new head.
 */
export class AuditLog {
  private readonly repo: Repository<AuditRecordEntity>;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly ds: DataSource, private readonly now: () => number = Date.now) {
    this.repo = ds.getRepository(AuditRecordEntity);
  }

  append(entry: AuditEntry): Promise<AuditRecord> {
    const next = this.tail.then(() => this.appendNow(entry));
    // A failed append must not wedge the queue for the next caller.
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async appendNow(entry: AuditEntry): Promise<AuditRecord> {
    let details = canonicalJson(entry.details ?? {});
    if (details.length > MAX_DETAILS) details = canonicalJson({ truncated: true, preview: details.slice(0, 1024) });
    for (let attempt = 0; ; attempt++) {
      const head = await this.repo.find({ order: { seq: "DESC" }, take: 1 });
      const prev = head[0];
      const base = {
        seq: (prev?.seq ?? 0) + 1,
        time: Math.max(this.now(), prev?.time ?? 0),
        actor: entry.actor.slice(0, 160),
        action: entry.action.slice(0, 64),
        target: (entry.target ?? "").slice(0, 255),
        details,
        prevHash: prev?.hash ?? GENESIS_HASH,
      };
      const record: AuditRecord = { ...base, hash: recordHash(base) };
      try {
        await this.repo.insert(record);
        return record;
      } catch (err) {
        // Another process took this seq; re-read the head. Anything else is a real failure.
        if (attempt >= 20 || !isUniqueViolation(err)) throw err;
      }
    }
  }

  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const qb = this.repo.createQueryBuilder("a").orderBy("a.seq", "DESC").take(q.limit);
    if (q.action) qb.andWhere("a.action = :action", { action: q.action });
    if (q.actor) qb.andWhere("a.actor = :actor", { actor: q.actor });
    if (q.since !== undefined) qb.andWhere("a.time >= :since", { since: q.since });
    if (q.until !== undefined) qb.andWhere("a.time < :until", { until: q.until });
    if (q.beforeSeq !== undefined) qb.andWhere("a.seq < :before", { before: q.beforeSeq });
    return (await qb.getMany()).map(plain);
  }

  /** Every record in chain order, a page at a time (for export and verification). */
  async *scan(pageSize = 1000): AsyncGenerator<AuditRecord> {
    let after = 0;
    for (;;) {
      const page = await this.repo.createQueryBuilder("a").where("a.seq > :after", { after }).orderBy("a.seq", "ASC").take(pageSize).getMany();
      for (const r of page) yield plain(r);
      if (page.length < pageSize) return;
      after = page[page.length - 1].seq;
    }
  }

  async verify(): Promise<VerifyResult> {
    const v = new ChainVerifier();
    for await (const r of this.scan()) if (!v.push(r)) break;
    return v.result();
  }

  get dataSource(): DataSource {
    return this.ds;
  }
}

function plain(e: AuditRecordEntity): AuditRecord {
  return { seq: e.seq, time: e.time, actor: e.actor, action: e.action, target: e.target, details: e.details, prevHash: e.prevHash, hash: e.hash };
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  const code = e.driverError?.code ?? e.code ?? "";
  return code === "23505" || code.startsWith("SQLITE_CONSTRAINT");
}

/** The API/export shape: details parsed back into JSON. */
export function auditView(r: AuditRecord): Record<string, unknown> {
  let details: unknown;
  try {
    details = JSON.parse(r.details);
  } catch {
    details = r.details;
  }
  return { seq: r.seq, time: new Date(r.time).toISOString(), actor: r.actor, action: r.action, target: r.target, details, prevHash: r.prevHash, hash: r.hash };
}
