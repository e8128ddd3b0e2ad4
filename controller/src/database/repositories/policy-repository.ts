import type { DataSource, Repository } from "typeorm";
import { AgentPolicyEntity } from "../entities/policy.entity";

/** The agents' policy: one row, replaced by each new version. */
export class PolicyRepository {
  constructor(private readonly repo: Repository<AgentPolicyEntity>) {}

  static of(ds: DataSource): PolicyRepository {
    return new PolicyRepository(ds.getRepository(AgentPolicyEntity));
  }

  /** The stored version, or null before the first one. */
  current(): Promise<AgentPolicyEntity | null> {
    return this.repo.findOneBy({ id: 1 });
  }

  async store(p: { version: number; specJson: string; updatedAt: number; updatedBy: string }): Promise<void> {
    await this.repo.save(this.repo.create({ id: 1, ...p }));
  }
}
