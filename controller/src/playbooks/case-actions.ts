import type { CommandService } from "../commands/command-service";
import { commandView } from "../commands/command-service";
import type { PlaybookService } from "./playbook-service";
import { playbookActionView } from "./playbook-service";
import type { CaseActionsProvider } from "../cases/case-query";
import type { TimelineContext, TimelineEntry, TimelineSource } from "../cases/case-timeline";

/**
 * The response half of a case's story: every command issued for it (by an
 * analyst or a playbook) with its result, every playbook decision (including
 * those waiting for approval or refused by a guard rail), and the evidence
 * collected. Also feeds the timeline so actions sit between the events.
 */
export class CaseActions implements CaseActionsProvider, TimelineSource {
  readonly name = "actions";

  constructor(
    private readonly commands: CommandService,
    private readonly playbooks: PlaybookService,
  ) {}

  async forCase(caseId: string, opts: { showEvidence?: boolean } = {}) {
    const [cmds, decisions] = await Promise.all([this.commands.list({ caseId, limit: 500 }), this.playbooks.actionsFor({ caseId, limit: 500 })]);
    const actions = cmds.map((c) => commandView(c, opts) as { id: string; type: string; state: string; agentId: string; finishedAt: string | null; output: unknown });
    return {
      actions: actions as unknown[],
      playbookDecisions: decisions.map(playbookActionView),
      pendingApprovals: decisions.filter((d) => d.state === "pending").map(playbookActionView),
      evidence: actions.filter((a) => a.type === "collect_evidence" && a.state === "succeeded").map((a) => ({ commandId: a.id, agentId: a.agentId, collectedAt: a.finishedAt, output: a.output })),
    };
  }

  async entries(ctx: TimelineContext): Promise<TimelineEntry[]> {
    const cmds = await this.commands.list({ caseId: ctx.caseId, limit: 500 });
    const out: TimelineEntry[] = [];
    for (const c of cmds) {
      out.push({ time: new Date(c.issuedAt).toISOString(), kind: "action", summary: `${c.type} requested by ${c.requestedBy}`, ref: { commandId: c.id } });
      if (c.finishedAt) out.push({ time: new Date(c.finishedAt).toISOString(), kind: "action_result", summary: `${c.type} ${c.state}${c.reason ? `: ${c.reason}` : ""}`, ref: { commandId: c.id } });
    }
    return out;
  }
}
