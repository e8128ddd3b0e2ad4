import type { Repository } from "typeorm";
import { alertView, type AlertQuery } from "../alerts/alert-query";
import { CaseEntity, type CaseState } from "../database/entities/case.entity";
import type { CaseTimeline } from "./case-timeline";

const iso = (ms: number) => new Date(ms).toISOString();

export function caseView(c: CaseEntity): Record<string, unknown> {
  return {
    id: c.id,
    title: c.title,
    state: c.state,
    verdict: c.verdict,
    score: c.score,
    entities: c.entities.map((k) => ({ kind: k.slice(0, k.indexOf(":")), value: k.slice(k.indexOf(":") + 1) })),
    alertCount: c.alertCount,
    firstSeen: iso(c.firstSeen),
    lastSeen: iso(c.lastSeen),
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
    resolvedBy: c.resolvedBy,
  };
}

/** What the response side contributes to a case: commands with results, playbook decisions, evidence. */
export interface CaseActionsProvider {
  /** `showEvidence`: the viewer holds evidence.read_output (otherwise collected evidence is left out). */
  forCase(caseId: string, opts?: { showEvidence?: boolean }): Promise<{ actions: unknown[]; pendingApprovals: unknown[]; evidence: unknown[]; playbookDecisions?: unknown[] }>;
}

/** Case reads: the list, and one case with its whole story. */
export class CaseQuery {
  private actions?: CaseActionsProvider;

  /** Response is built after detection; it plugs its view of a case in here. */
  setActionsProvider(p: CaseActionsProvider): void {
    this.actions = p;
  }

  constructor(
    private readonly repo: Repository<CaseEntity>,
    private readonly alerts: AlertQuery,
    private readonly timeline: CaseTimeline,
  ) {}

  list(f: { state?: CaseState; minScore?: number; limit: number; cursor?: { lastSeen: number; id: string } }): Promise<CaseEntity[]> {
    const qb = this.repo.createQueryBuilder("c").orderBy("c.last_seen", "DESC").addOrderBy("c.id", "DESC").take(f.limit);
    if (f.state) qb.andWhere("c.state = :state", { state: f.state });
    if (f.minScore !== undefined) qb.andWhere("c.score >= :ms", { ms: f.minScore });
    if (f.cursor) qb.andWhere("(c.last_seen < :cl OR (c.last_seen = :cl AND c.id < :cid))", { cl: f.cursor.lastSeen, cid: f.cursor.id });
    return qb.getMany();
  }

  async story(id: string, opts: { showEvidence?: boolean } = {}): Promise<Record<string, unknown> | null> {
    const c = await this.repo.findOneBy({ id });
    if (!c) return null;
    const alerts = await this.alerts.byCase(id);
    const timeline = await this.timeline.build({ caseId: id, alerts });
    return {
      ...caseView(c),
      alertIds: alerts.map((a) => a.id),
      alerts: alerts.map(alertView),
      timeline,
      ...(this.actions ? await this.actions.forCase(id, opts) : { actions: [], pendingApprovals: [], evidence: [] }),
    };
  }
}
