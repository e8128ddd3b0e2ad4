import type { DataSource, Repository } from "typeorm";
import { ApiKeyEntity } from "../entities";

/** API keys as stored: id, role and an scrypt hash of the secret; checking a key is auth's. */
export class ApiKeyRepository {
  constructor(private readonly repo: Repository<ApiKeyEntity>) {}

  static of(ds: DataSource): ApiKeyRepository {
    return new ApiKeyRepository(ds.getRepository(ApiKeyEntity));
  }

  async create(row: ApiKeyEntity): Promise<void> {
    await this.repo.insert(this.repo.create(row));
  }

  byId(id: string): Promise<ApiKeyEntity | null> {
    return this.repo.findOneBy({ id });
  }

  /** Every key, oldest first. */
  list(): Promise<ApiKeyEntity[]> {
    return this.repo.find({ order: { createdAt: "ASC" } });
  }

  /** Revokes the key at `at` if it exists and is not revoked yet; false otherwise. */
  async revoke(id: string, at: number): Promise<boolean> {
    const res = await this.repo.update({ id, revokedAt: 0 }, { revokedAt: at });
    return (res.affected ?? 0) > 0;
  }

  async touch(id: string, at: number): Promise<void> {
    await this.repo.update({ id }, { lastUsedAt: at });
  }
}
