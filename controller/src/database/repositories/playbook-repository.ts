import type { DataSource, Repository } from "typeorm";
import { PlaybookActionEntity, PlaybookEntity, PlaybookVersionEntity } from "../entities/playbook.entities";

/** Playbooks, their versions, and the decisions they took (one per playbook, alert and action). */
export class PlaybookRepository {
  constructor(
    private readonly playbooks: Repository<PlaybookEntity>,
    private readonly versions: Repository<PlaybookVersionEntity>,
    private readonly decisions: Repository<PlaybookActionEntity>,
  ) {}

  static of(ds: DataSource): PlaybookRepository {
    return new PlaybookRepository(ds.getRepository(PlaybookEntity), ds.getRepository(PlaybookVersionEntity), ds.getRepository(PlaybookActionEntity));
  }

  /** Playbooks not deleted. */
  active(): Promise<PlaybookEntity[]> {
    return this.playbooks.find({ where: { deleted: false } });
  }

  /** The playbook, deleted or not. */
  byId(id: string): Promise<PlaybookEntity | null> {
    return this.playbooks.findOneBy({ id });
  }

  async save(p: PlaybookEntity): Promise<void> {
    await this.playbooks.save(this.playbooks.create(p));
  }

  async addVersion(v: Omit<PlaybookVersionEntity, "id">): Promise<void> {
    await this.versions.insert(v);
  }

  versionsOf(playbookId: string): Promise<PlaybookVersionEntity[]> {
    return this.versions.find({ where: { playbookId }, order: { version: "ASC" } });
  }

  /** When automatic isolations were issued since `since` (the guard rail's rate window after a restart). */
  async autoIsolationsSince(since: number): Promise<number[]> {
    const rows = await this.decisions.createQueryBuilder("a").where("a.action_type = 'isolate' AND a.state = 'issued' AND a.decided_by = 'auto' AND a.created_at > :since", { since }).getMany();
    return rows.map((a) => a.createdAt);
  }

  /** Records a decision; false if this (playbook, alert, action) was decided already (the unique key). */
  async insertDecision(row: PlaybookActionEntity): Promise<boolean> {
    try {
      await this.decisions.insert(row);
      return true;
    } catch (err) {
      if (/UNIQUE|duplicate key/i.test(String(err))) return false;
      throw err;
    }
  }

  async saveDecision(row: PlaybookActionEntity): Promise<void> {
    await this.decisions.save(row);
  }

  decisionById(id: string): Promise<PlaybookActionEntity | null> {
    return this.decisions.findOneBy({ id });
  }

  /** Newest first. */
  decisionsFor(f: { caseId?: string; alertId?: string; state?: string; limit: number }): Promise<PlaybookActionEntity[]> {
    const where: Record<string, string> = {};
    if (f.caseId) where.caseId = f.caseId;
    if (f.alertId) where.alertId = f.alertId;
    if (f.state) where.state = f.state;
    return this.decisions.find({ where, order: { createdAt: "DESC" }, take: f.limit });
  }
}
