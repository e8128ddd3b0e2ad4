import type { DataSource, Repository } from "typeorm";
import { IocEntity } from "../entities/detection.entities";
import { placeholders, SqlBatch } from "../sql-batch";

/** An iocs row as raw SQL returns it (bigints may come back as strings on PostgreSQL). */
export interface IocRow {
  id: number | string;
  kind: string;
  value: string;
  confidence: number;
  source: string;
  description: string | null;
  expires_at: number | string | null;
  tags: string;
  source_id: string | null;
  updated_at: number | string;
}

/** An indicator to store (the shape of detection's Ioc, confidence already rounded). */
export interface IocWrite {
  kind: string;
  value: string;
  confidence: number;
  source: string;
  description?: string;
  expiresAtMs?: number;
  tags?: string[];
  sourceId?: string;
}

const IOC_COLUMNS = "id, kind, value, confidence, source, description, expires_at, tags, source_id, updated_at";

const UPSERT = `INSERT INTO iocs (kind, value, confidence, source, description, expires_at, tags, source_id, created_at, updated_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (kind, value, source) DO UPDATE SET confidence = excluded.confidence, description = excluded.description,
    expires_at = excluded.expires_at, tags = excluded.tags, source_id = excluded.source_id, updated_at = excluded.updated_at`;

/**
 * The iocs table. Every read is one short, bounded statement (a page, an id span, a batch), so the
 * catalog can hand the thread back between them whatever the size of the table.
 */
export class IocRepository {
  constructor(
    private readonly repo: Repository<IocEntity>,
    private readonly sql: SqlBatch,
  ) {}

  /** `sql`: the detection write path's batch where there is one (its prepared statements are shared). */
  static of(ds: DataSource, sql: SqlBatch = new SqlBatch(ds)): IocRepository {
    return new IocRepository(ds.getRepository(IocEntity), sql);
  }

  /** Up to `take` rows with id above `afterId`, by id. */
  pageAfter(afterId: number, take: number): Promise<IocRow[]> {
    return this.sql.query<IocRow>(`SELECT ${IOC_COLUMNS} FROM iocs WHERE id > ? ORDER BY id LIMIT ?`, [afterId, take]);
  }

  /** A filtered page by id, as entities. */
  list(f: { kind?: string; source?: string; limit: number; afterId?: number }): Promise<IocEntity[]> {
    const qb = this.repo.createQueryBuilder("i").orderBy("i.id", "ASC").take(f.limit);
    if (f.kind) qb.andWhere("i.kind = :kind", { kind: f.kind });
    if (f.source) qb.andWhere("i.source = :source", { source: f.source });
    if (f.afterId !== undefined) qb.andWhere("i.id > :after", { after: f.afterId });
    return qb.getMany();
  }

  async maxId(): Promise<number> {
    const [span] = await this.sql.query<{ hi: number | string | null }>(`SELECT MAX(id) AS hi FROM iocs`);
    return Number(span?.hi ?? 0);
  }

  /** Rows with lo < id <= hi not expired at `nowMs`. */
  async countLiveInSpan(lo: number, hi: number, nowMs: number): Promise<number> {
    const [r] = await this.sql.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM iocs WHERE id > ? AND id <= ? AND (expires_at IS NULL OR expires_at > ?)`, [lo, hi, nowMs]);
    return Number(r?.n ?? 0);
  }

  /** A page in policy order (confidence, updated_at, id, all descending) after `after`, along the iocs_policy_order index. */
  bestFirstPage(after: [number, number, number] | undefined, take: number): Promise<IocRow[]> {
    const where = after ? `WHERE (confidence, updated_at, id) < (?, ?, ?)` : "";
    return this.sql.query<IocRow>(`SELECT ${IOC_COLUMNS} FROM iocs ${where} ORDER BY confidence DESC, updated_at DESC, id DESC LIMIT ?`, [...(after ?? []), take]);
  }

  async remove(id: number): Promise<boolean> {
    const res = await this.repo.delete({ id: String(id) });
    return Boolean(res.affected);
  }

  /** Deletes up to `take` rows of the source; returns how many (0: none left). */
  async removeSomeOfSource(source: string, take: number): Promise<number> {
    const ids = await this.sql.query<{ id: number | string }>(`SELECT id FROM iocs WHERE source = ? LIMIT ?`, [source, take]);
    if (ids.length === 0) return 0;
    await this.sql.run([{ sql: `DELETE FROM iocs WHERE id IN (${placeholders(ids.length)})`, params: ids.map((r) => r.id) }]);
    return ids.length;
  }

  /** Upserts the batch in one transaction (same kind, value and source: the row is updated). */
  async upsert(batch: readonly IocWrite[], now: number): Promise<void> {
    await this.sql.run(
      batch.map((i) => ({
        sql: UPSERT,
        params: [i.kind, i.value, i.confidence, i.source, i.description ?? null, i.expiresAtMs ?? null, JSON.stringify(i.tags ?? []), i.sourceId ?? null, now, now],
      })),
    );
  }
}
