import { createHash, randomUUID } from "node:crypto";
import { PLAYBOOK_COMMANDS, type PlaybookCommandAction } from "@vigil/proto";
import { CommandForbidden, type AuditSink, type CommandService } from "../commands/command-service";
import { CommandParamError } from "../commands/command-params";
import { CannotDerive, deriveParams, type PlaybookAlert } from "./action-params";
import { guard, type GuardRailConfig } from "./guard-rails";
import type { PlaybookActionEntity, PlaybookEntity, PlaybookVersionEntity } from "../database/entities/playbook.entities";
import type { PlaybookRepository } from "../database/repositories/playbook-repository";
import { checkPresetParams, parsePlaybook, type PlaybookSpec } from "./playbook-schema";

export class PlaybookNotFound extends Error {}
export class PlaybookConflict extends Error {}

export type Notifier = (n: { playbookId: string; alert: PlaybookAlert; params: Record<string, unknown> }) => void;

interface Loaded {
  entity: PlaybookEntity;
  spec: PlaybookSpec;
}

/**
 * Playbooks turn scored alerts into response: each matching playbook decides
 * once per alert, and every decision (issued, waiting for an analyst, refused
 * by a guard rail, impossible) is stored where the case shows it.
 */
export class PlaybookService {
  private readonly changeListeners: Array<() => void> = [];

  private loaded: Loaded[] = [];
  private autoIsolations: number[] = [];
  private notifiers: Notifier[] = [];

  constructor(
    private readonly repo: PlaybookRepository,
    private readonly commands: CommandService,
    private readonly agentTags: (agentId: string) => Promise<string[]>,
    private readonly guardRails: GuardRailConfig,
    private readonly audit?: AuditSink,
    private readonly now: () => number = Date.now,
  ) {}

  onNotify(n: Notifier): void {
    this.notifiers.push(n);
  }

  async load(): Promise<void> {
    const rows = await this.repo.active();
    this.loaded = rows.map((entity) => ({ entity, spec: parsePlaybook(entity.yaml) }));
    const since = this.now() - 3_600_000;
    this.autoIsolations = await this.repo.autoIsolationsSince(since);
  }

  list(): PlaybookEntity[] {
    return this.loaded.map((l) => l.entity);
  }

  async get(id: string): Promise<PlaybookEntity> {
    const row = await this.repo.byId(id);
    if (!row || row.deleted) throw new PlaybookNotFound(`playbook "${id.slice(0, 64)}" not found`);
    return row;
  }

  async history(id: string): Promise<PlaybookVersionEntity[]> {
    await this.get(id);
    return this.repo.versionsOf(id);
  }

  /** Creates (create=true) or updates a playbook; each save is a new version. Throws PlaybookError on invalid YAML. */
  async save(yaml: string, actor: string, mode: "create" | "update", expectId?: string): Promise<PlaybookEntity> {
    const spec = parsePlaybook(yaml);
    checkPresetParams(spec);
    if (expectId && spec.id !== expectId) throw new PlaybookConflict(`the YAML's id "${spec.id}" does not match the URL's "${expectId}"`);
    const existing = await this.repo.byId(spec.id);
    if (mode === "create" && existing && !existing.deleted) throw new PlaybookConflict(`playbook "${spec.id}" already exists; update it instead`);
    if (mode === "update" && (!existing || existing.deleted)) throw new PlaybookNotFound(`playbook "${spec.id}" not found`);
    const now = this.now();
    const version = (existing?.version ?? 0) + 1;
    const entity: PlaybookEntity = { id: spec.id, name: spec.name, version, yaml, enabled: spec.enabled, deleted: false, createdAt: existing?.createdAt ?? now, updatedAt: now };
    await this.repo.save(entity);
    await this.repo.addVersion({ playbookId: spec.id, version, yaml, createdAt: now, createdBy: actor.slice(0, 128) });
    await this.audit?.append({
      actor,
      action: mode === "create" ? "playbook.created" : "playbook.updated",
      target: `playbook:${spec.id}`,
      details: { version, name: spec.name, sha256: createHash("sha256").update(yaml, "utf8").digest("hex") },
    });
    await this.load();
    for (const l of this.changeListeners) l();
    return entity;
  }

  /** A playbook was saved or removed here (other replicas reload theirs). */
  onChanged(l: () => void): void {
    this.changeListeners.push(l);
  }

  async remove(id: string, actor: string): Promise<void> {
    const row = await this.get(id);
    row.deleted = true;
    row.updatedAt = this.now();
    await this.repo.save(row);
    await this.audit?.append({ actor, action: "playbook.deleted", target: `playbook:${id}`, details: { version: row.version } });
    await this.load();
    for (const l of this.changeListeners) l();
  }

  /** Called for every new or updated alert. */
  async onAlert(alert: PlaybookAlert): Promise<PlaybookActionEntity[]> {
    const out: PlaybookActionEntity[] = [];
    if (!this.loaded.length) return out;
    const tags = await this.agentTags(alert.agentId);
    for (const { entity, spec } of this.loaded) {
      if (!spec.enabled || !matches(spec, alert, tags)) continue;
      for (const [i, action] of spec.actions.entries()) {
        const decided = await this.decide(entity, spec, i, action, alert, tags);
        if (decided) out.push(decided);
      }
    }
    return out;
  }

  private async decide(pb: PlaybookEntity, spec: PlaybookSpec, index: number, action: PlaybookSpec["actions"][number], alert: PlaybookAlert, tags: string[]): Promise<PlaybookActionEntity | null> {
    const now = this.now();
    const row: PlaybookActionEntity = {
      id: randomUUID(),
      playbookId: pb.id,
      playbookVersion: pb.version,
      alertId: alert.id,
      caseId: alert.caseId,
      agentId: alert.agentId,
      actionIndex: index,
      actionType: action.type,
      paramsJson: "{}",
      state: "pending",
      reason: "",
      commandId: null,
      createdAt: now,
      decidedAt: null,
      decidedBy: null,
    };
    let params: Record<string, unknown>;
    try {
      params = deriveParams(action, alert, `playbook ${pb.id} v${pb.version}: ${alert.ruleTitle}`.slice(0, 500));
    } catch (err) {
      if (!(err instanceof CannotDerive)) throw err;
      Object.assign(row, { state: "skipped", reason: err.message, decidedAt: now, decidedBy: "auto" });
      return this.record(row);
    }
    row.paramsJson = JSON.stringify(params);
    if (action.type === "notify") {
      for (const n of this.notifiers) n({ playbookId: pb.id, alert, params });
      Object.assign(row, { state: "issued", reason: "notification sent", decidedAt: now, decidedBy: "auto" });
      return this.record(row);
    }
    const g = guard({ action: action.type, approval: spec.approval, agentTags: tags, recentAutoIsolations: this.autoIsolations, ip: params.ip as string | undefined, now }, this.guardRails);
    if (g.kind === "refused") {
      Object.assign(row, { state: "refused", reason: g.reason, decidedAt: now, decidedBy: "guard-rail" });
      return this.record(row);
    }
    if (g.kind === "approval") {
      row.reason = g.reason;
      return this.record(row);
    }
    // Claim the slot before issuing, so a concurrent update of the same alert cannot issue twice.
    const claimed = await this.record(row);
    if (!claimed) return null;
    if (action.type === "isolate") this.autoIsolations.push(now);
    await this.issue(row, "auto", `playbook:${pb.id}@v${pb.version}`);
    return row;
  }

  private async issue(row: PlaybookActionEntity, decidedBy: string, requestedBy: string): Promise<void> {
    try {
      const type = PLAYBOOK_COMMANDS.get(row.actionType as PlaybookCommandAction) ?? row.actionType;
      const cmd = await this.commands.issue(row.agentId, type, JSON.parse(row.paramsJson), { requestedBy, caseId: row.caseId, alertId: row.alertId });
      Object.assign(row, { state: decidedBy === "auto" ? "issued" : "approved", commandId: cmd.id, decidedAt: this.now(), decidedBy });
    } catch (err) {
      if (!(err instanceof CommandParamError) && !(err instanceof CommandForbidden)) throw err;
      const why = err instanceof CommandForbidden ? `not allowed: ${err.message}` : `invalid action parameters: ${err.message}`;
      Object.assign(row, { state: "skipped", reason: why, decidedAt: this.now(), decidedBy });
    }
    await this.repo.saveDecision(row);
  }

  /** Inserts the decision; null if this (playbook, alert, action) was decided already. */
  private async record(row: PlaybookActionEntity): Promise<PlaybookActionEntity | null> {
    return (await this.repo.insertDecision(row)) ? row : null;
  }

  async decidePending(id: string, approve: boolean, actor: string): Promise<PlaybookActionEntity> {
    const row = await this.repo.decisionById(id);
    if (!row) throw new PlaybookNotFound(`playbook action "${id.slice(0, 64)}" not found`);
    if (row.state !== "pending") throw new PlaybookConflict(`playbook action is ${row.state}, not pending`);
    await this.audit?.append({
      actor,
      action: approve ? "playbook_action.approved" : "playbook_action.rejected",
      target: `agent:${row.agentId}`,
      details: { playbookActionId: id, type: row.actionType, alertId: row.alertId },
    });
    if (!approve) {
      Object.assign(row, { state: "rejected", decidedAt: this.now(), decidedBy: actor });
      await this.repo.saveDecision(row);
      return row;
    }
    await this.issue(row, actor, actor);
    return row;
  }

  async actionsFor(f: { caseId?: string; alertId?: string; state?: string; limit: number }): Promise<PlaybookActionEntity[]> {
    return this.repo.decisionsFor(f);
  }
}

function matches(spec: PlaybookSpec, alert: PlaybookAlert, agentTags: string[]): boolean {
  const w = spec.when;
  if (alert.score < w.minScore) return false;
  if (w.rules && !w.rules.includes(alert.ruleId)) return false;
  if (w.tags) {
    const have = alert.ruleTags.map((t) => t.toLowerCase());
    if (!w.tags.some((t) => have.includes(t))) return false;
  }
  if (w.entityKinds && !w.entityKinds.includes(alert.entityKind as "host")) return false;
  if (w.agentTags && !w.agentTags.every((t) => agentTags.includes(t))) return false;
  return true;
}

export function playbookActionView(a: PlaybookActionEntity): Record<string, unknown> {
  return {
    id: a.id,
    playbookId: a.playbookId,
    playbookVersion: a.playbookVersion,
    alertId: a.alertId,
    caseId: a.caseId,
    agentId: a.agentId,
    type: a.actionType,
    params: JSON.parse(a.paramsJson),
    state: a.state,
    reason: a.reason,
    commandId: a.commandId,
    createdAt: new Date(a.createdAt).toISOString(),
    decidedAt: a.decidedAt ? new Date(a.decidedAt).toISOString() : null,
    decidedBy: a.decidedBy,
  };
}
