import type { DataSource, Repository } from "typeorm";
import { SuppressionEntity } from "../entities/alert.entity";
import type { Stmt } from "../sql-batch";

/** Analyst suppressions: matches they cover are counted, never stored as alerts. */
export class SuppressionRepository {
  constructor(private readonly repo: Repository<SuppressionEntity>) {}

  static of(ds: DataSource): SuppressionRepository {
    return new SuppressionRepository(ds.getRepository(SuppressionEntity));
  }

  /** Every suppression, oldest first. */
  all(): Promise<SuppressionEntity[]> {
    return this.repo.find({ order: { createdAt: "ASC" } });
  }

  async insert(row: SuppressionEntity): Promise<void> {
    // TypeORM's insert types simple-json columns as deep partials, which a plain record does not satisfy.
    await this.repo.insert(row as never);
  }

  /** Whether a row was removed. */
  async remove(id: string): Promise<boolean> {
    const res = await this.repo.delete({ id });
    return (res.affected ?? 0) > 0;
  }

  /** The statement that adds `hits` to a suppression's count, committed with the chunk it suppressed in. */
  hitsWrite(id: string, hits: number, at: number): Stmt {
    return { sql: `UPDATE suppressions SET hits = hits + ?, last_hit_at = ? WHERE id = ?`, params: [hits, at, id] };
  }
}
