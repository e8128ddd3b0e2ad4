import type { DataSource, Repository } from "typeorm";
import { RuleSettingEntity, RuleSourceEntity } from "../entities/detection.entities";

/** Uploaded Sigma rule files and the per-rule enabled/disabled overrides. */
export class RuleRepository {
  constructor(
    private readonly sources: Repository<RuleSourceEntity>,
    private readonly settings: Repository<RuleSettingEntity>,
  ) {}

  static of(ds: DataSource): RuleRepository {
    return new RuleRepository(ds.getRepository(RuleSourceEntity), ds.getRepository(RuleSettingEntity));
  }

  /** Uploaded files, oldest first (the order rules compile in). */
  allSources(): Promise<RuleSourceEntity[]> {
    return this.sources.find({ order: { createdAt: "ASC" } });
  }

  /** Stores a file, replacing one of the same name. */
  async saveSource(s: RuleSourceEntity): Promise<void> {
    await this.sources.save(s, { transaction: false });
  }

  async removeSource(name: string): Promise<void> {
    await this.sources.delete({ name });
  }

  allSettings(): Promise<RuleSettingEntity[]> {
    return this.settings.find();
  }

  async setEnabled(ruleId: string, enabled: boolean, at: number, actor: string): Promise<void> {
    await this.settings.save({ ruleId, enabled: enabled ? 1 : 0, updatedAt: at, updatedBy: actor }, { transaction: false });
  }
}
