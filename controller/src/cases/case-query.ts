import { entityViews, hostIds, type HostNames } from "../agents/host-names";
import { alertView, type AlertQuery } from "../alerts/alert-query";
import type { CaseEntity } from "../database/entities/case.entity";
import type { CaseFilter, CaseRepository } from "../database/repositories/case-repository";
import type { CaseTimeline } from "./case-timeline";

const iso = (ms: number) => new Date(ms).toISOString();

/** `hostnames`: agent id → hostname for the case's host entities (HostNames.of); missing ones show "". */
export function caseView(c: CaseEntity, hostnames: ReadonlyMap<string, string> = new Map()): Record<string, unknown> {
  return {
    id: c.id,
    title: c.title,
    state: c.state,
    verdict: c.verdict,
    score: c.score,
    entities: entityViews(c.entities, hostnames),
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

  /** Response's view of a case, handed in by composition (app/triage.ts) as triage is built. */
  setActionsProvider(p: CaseActionsProvider): void {
    this.actions = p;
  }

  constructor(
    private readonly cases: Pick<CaseRepository, "byId" | "page">,
    private readonly alerts: AlertQuery,
    private readonly timeline: CaseTimeline,
    private readonly hosts?: HostNames,
  ) {}

  /** Case rows as the API shows them, hosts named. */
  async views(rows: CaseEntity[]): Promise<Record<string, unknown>[]> {
    const names = this.hosts ? await this.hosts.of(rows.flatMap((c) => hostIds(c.entities))) : new Map<string, string>();
    return rows.map((c) => caseView(c, names));
  }

  list(f: CaseFilter): Promise<CaseEntity[]> {
    return this.cases.page(f);
  }

  async story(id: string, opts: { showEvidence?: boolean } = {}): Promise<Record<string, unknown> | null> {
    const c = await this.cases.byId(id);
    if (!c) return null;
    const alerts = await this.alerts.byCase(id);
    const timeline = await this.timeline.build({ caseId: id, alerts });
    return {
      ...(await this.views([c]))[0],
      alertIds: alerts.map((a) => a.id),
      alerts: alerts.map(alertView),
      timeline,
      ...(this.actions ? await this.actions.forCase(id, opts) : { actions: [], pendingApprovals: [], evidence: [] }),
    };
  }
}
