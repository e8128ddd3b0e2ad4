import type { DataSource, Repository } from "typeorm";
import { EnrollmentTokenEntity } from "../entities";

/** Enrollment tokens as stored: a hash of the secret, an expiry and a use count. */
export class EnrollmentTokenRepository {
  constructor(private readonly repo: Repository<EnrollmentTokenEntity>) {}

  static of(ds: DataSource): EnrollmentTokenRepository {
    return new EnrollmentTokenRepository(ds.getRepository(EnrollmentTokenEntity));
  }

  async create(row: EnrollmentTokenEntity): Promise<void> {
    await this.repo.insert(this.repo.create(row));
  }

  byId(id: string): Promise<EnrollmentTokenEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /**
   * Uses the token once if it has a use left and has not expired at `now`. One conditional UPDATE,
   * so concurrent enrollments racing for the last use cannot both succeed.
   */
  async consume(id: string, now: number): Promise<boolean> {
    const res = await this.repo
      .createQueryBuilder()
      .update(EnrollmentTokenEntity)
      .set({ usesLeft: () => "uses_left - 1" })
      .where("id = :id AND uses_left > 0 AND expires_at > :now", { id, now })
      .execute();
    return Boolean(res.affected);
  }

  /** Every token, newest first. */
  list(): Promise<EnrollmentTokenEntity[]> {
    return this.repo.find({ order: { createdAt: "DESC" } });
  }
}
