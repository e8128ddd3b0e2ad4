import { recordProcessFault } from "../logging/process-faults";
import { createHash, randomUUID } from "node:crypto";
import { canonicalParamsJson, COMMAND_LIMITS, commandSigningPayload, CommandStatus, SAFE_ID_PATTERN, toWireCommand, undoOf, type CommandResult, type CommandType } from "@vigil/proto";
import type { AgentRegistry } from "../agents/agent-registry";
import type { CommandSigner } from "../crypto/signing-key";
import { can, DEFAULT_GRANTS, type Permission, type PermissionGrants, type Role } from "../http/roles";
import type { ActionLogEntity, CommandEntity, CommandState } from "../database/entities";
import type { CommandFilter, CommandRepository } from "../database/repositories/command-repository";
import { CommandParamError, readsFileContents, validateCommandParams } from "./command-params";
import type { RemoteDelivery } from "../agents/agent-relay";
import { Coalescer } from "../database/coalescer";

/** Agents per batched read of queued commands. */
const PENDING_READS_PER_QUERY = 500;

export interface AuditSink {
  append(entry: { actor: string; action: string; target?: string; details?: Record<string, unknown> }): Promise<unknown>;
}

export interface IssueOptions {
  requestedBy: string;
  ttlMs?: number;
  caseId?: string | null;
  alertId?: string | null;
  undoOf?: string | null;
  /** The requester holds evidence.fetch_file (an admin key): only then may a command read a file's contents. */
  mayFetchFiles?: boolean;
}

export class CommandNotFound extends Error {}
export class NotReversible extends Error {}
/** The requester may not issue this command (file contents without evidence.fetch_file). */
export class CommandForbidden extends Error {}

/** A case id a command is filed under: bounded, and only characters ids are made of. */
export function checkCaseId(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  const max = COMMAND_LIMITS.caseIdMaxChars;
  if (typeof v !== "string" || v.length === 0 || v.length > max || !SAFE_ID_PATTERN.test(v)) throw new CommandParamError("caseId", `expected a case id: 1-${max} characters of A-Z a-z 0-9 . _ : -`);
  return v;
}

const DEFAULT_TTL_MS = 60 * 60_000;
const MAX_TTL_MS = 7 * 24 * 3600_000;
const MAX_OUTPUT_CHARS = COMMAND_LIMITS.outputMaxChars;

const STATUS: Record<number, CommandState> = {
  [CommandStatus.COMMAND_STATUS_SUCCEEDED]: "succeeded",
  [CommandStatus.COMMAND_STATUS_FAILED]: "failed",
  [CommandStatus.COMMAND_STATUS_REFUSED]: "refused",
  [CommandStatus.COMMAND_STATUS_NOT_ENFORCED]: "not_enforced",
};

/** Agents before COMMAND_STATUS_NOT_ENFORCED said "succeeded" with this reason for a monitor-mode action. */
const LEGACY_MONITOR_REASON = "monitor: not enforced";

function resultState(r: CommandResult): CommandState | undefined {
  if (r.status === CommandStatus.COMMAND_STATUS_SUCCEEDED && r.reason === LEGACY_MONITOR_REASON) return "not_enforced";
  return STATUS[r.status];
}

export type CommandListener = (cmd: CommandEntity) => void;

/**
 * Issues signed commands, queues them for offline agents, delivers them when
 * the agent is (back) online, records results, and writes every step to the
 * append-only action log and the audit trail.
 */
export class CommandService {
  private listeners: CommandListener[] = [];
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly commands: CommandRepository,
    /** Only the live session of an agent is needed: delivery goes to it. */
    private readonly registry: Pick<AgentRegistry, "session">,
    private readonly signer: CommandSigner,
    private readonly audit?: AuditSink,
    private readonly now: () => number = Date.now,
    private readonly grants: PermissionGrants = DEFAULT_GRANTS,
    /** Distributed mode: how a command reaches an agent whose stream another replica holds. */
    private readonly remote?: RemoteDelivery,
  ) {
    // A fleet connecting together reads its queued commands in one query per batch, not one per agent.
    this.pending = new Coalescer<string, CommandEntity[]>({
      maxItems: PENDING_READS_PER_QUERY,
      keyOf: (id) => id,
      runMany: async (ids) => {
        const found = await commands.pendingForMany(ids);
        return ids.map((id) => found.get(id) ?? []);
      },
    });
  }

  private readonly pending: Coalescer<string, CommandEntity[]>;

  /** Whether a key of this role holds the permission here (file fetching is configurable). */
  permits(role: Role | undefined, permission: Permission): boolean {
    return can(role, permission, this.grants);
  }

  onChange(l: CommandListener): void {
    this.listeners.push(l);
  }

  start(): void {
    // A database outage must not crash the controller (unhandled rejection); the next sweep retries.
    this.sweeper = setInterval(() => {
      void this.expireOverdue().catch(() => undefined);
      if (this.remote) void this.deliverHeldQueued().catch(() => undefined);
    }, 5_000);
    this.sweeper.unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  /** Validates, signs, stores and (if the agent is online) sends a command. Throws CommandParamError on bad params. */
  async issue(agentId: string, type: string, params: unknown, opts: IssueOptions): Promise<CommandEntity> {
    const typed = validateCommandParams(type, params);
    // The canonical JSON of the typed params: what old agents parse and new ones rebuild from the oneof.
    const paramsJson = canonicalParamsJson(type as CommandType, typed);
    const clean = JSON.parse(paramsJson) as Record<string, unknown>;
    if (readsFileContents(type, typed) && !opts.mayFetchFiles)
      throw new CommandForbidden(
        "fetching a file's contents needs the evidence.fetch_file permission (admin keys unless VIGIL_EVIDENCE_FILE_ROLES grants analysts); hashes (sha256Paths) and process, connection and open-file lists do not",
      );
    const caseId = checkCaseId(opts.caseId);
    const ttl = Math.min(Math.max(opts.ttlMs ?? DEFAULT_TTL_MS, 1_000), MAX_TTL_MS);
    const issuedAt = this.now();
    const unsigned = { id: randomUUID(), agentId, type, paramsJson, issuedAtMs: issuedAt, expiresAtMs: issuedAt + ttl };
    const payload = commandSigningPayload(unsigned);
    const entity: CommandEntity = {
      id: unsigned.id,
      agentId,
      type,
      paramsJson: unsigned.paramsJson,
      state: "queued",
      issuedAt,
      expiresAt: unsigned.expiresAtMs,
      signature: this.signer.sign(payload).toString("base64"),
      payloadSha256: createHash("sha256").update(payload).digest("hex"),
      requestedBy: opts.requestedBy.slice(0, 128),
      caseId,
      alertId: opts.alertId ?? null,
      local: false,
      sentAt: null,
      finishedAt: null,
      reason: "",
      outputJson: "",
      undoOf: opts.undoOf ?? null,
    };
    await this.commands.insert(entity);
    await this.step(entity, "requested", { by: entity.requestedBy, params: clean, expiresAt: new Date(entity.expiresAt).toISOString() });
    await this.audit?.append({
      actor: entity.requestedBy,
      action: "command.issued",
      target: `agent:${agentId}`,
      details: { commandId: entity.id, type, payloadSha256: entity.payloadSha256, caseId: entity.caseId, ...auditedParams(type, clean) },
    });
    this.emit(entity);
    this.deliver(entity);
    return entity;
  }

  /** Re-sends everything pending for an agent that just connected (queued, or sent without a result). */
  async deliverPending(agentId: string): Promise<void> {
    const pending = await this.pending.submit(agentId);
    for (const c of pending) {
      if (c.expiresAt <= this.now()) await this.finish(c, "expired", "expired before the agent could receive it", "");
      else this.deliver(c);
    }
  }

  /**
   * A nudge from another replica: `commandId` was issued there for an agent whose stream this
   * replica holds. Read back from the database and sent only if it is still queued for that agent.
   */
  async deliverQueued(agentId: string, commandId: string): Promise<void> {
    const c = await this.commands.byId(commandId);
    if (!c || c.agentId !== agentId || c.state !== "queued") return;
    if (c.expiresAt <= this.now()) await this.finish(c, "expired", "expired before the agent could receive it", "");
    else this.deliver(c, false);
  }

  /**
   * Distributed mode, every sweep: commands still queued for agents whose streams this replica
   * holds are sent. Covers a nudge lost while NATS was away, or a command stored on another
   * replica in the instant its agent moved here (after this connect's pending read, before the
   * nudge found a subscriber). Returns how many were sent.
   */
  async deliverHeldQueued(): Promise<number> {
    let n = 0;
    for (const c of await this.commands.list({ state: "queued", limit: 500 })) {
      if (c.state !== "queued" || c.expiresAt <= this.now() || !this.registry.session(c.agentId)) continue;
      this.deliver(c, false);
      n++;
    }
    return n;
  }

  private deliver(c: CommandEntity, relay = true): void {
    const session = this.registry.session(c.agentId);
    if (!session) {
      // Another replica may hold the stream; a nudge received is never relayed on (no ping-pong).
      if (relay && c.state === "queued") this.remote?.nudge(c.agentId, c.id);
      return;
    }
    const wire = toWireCommand({ id: c.id, agentId: c.agentId, type: c.type, paramsJson: c.paramsJson, issuedAtMs: c.issuedAt, expiresAtMs: c.expiresAt }, Buffer.from(c.signature, "base64"));
    session.send({ msg: { $case: "command", command: wire } });
    if (c.state === "queued") {
      c.state = "sent";
      c.sentAt = this.now();
      this.commands
        .markSent(c.id, c.sentAt)
        .then(() => this.step(c, "sent", {}))
        .then(() => this.emit(c))
        // The command is on the wire either way; a failed bookkeeping write leaves it "queued", so it is re-sent on reconnect (the agent drops the replay).
        .catch((err: unknown) => recordProcessFault("background_failure", err));
    }
  }

  /**
   * A result from the agent, over the stream or replayed from its spool (a
   * command_result agent event). Idempotent: the first final result wins.
   */
  async onResult(agentId: string, r: CommandResult): Promise<void> {
    const state = resultState(r);
    if (!state || !/^[A-Za-z0-9._:-]{1,128}$/.test(r.commandId)) return;
    let c = await this.commands.byId(r.commandId);
    if (c && c.agentId !== agentId) return; // another agent cannot answer for this one
    if (!c) {
      if (!r.local) return; // a result for a command we never issued: ignore
      c = {
        id: r.commandId,
        agentId,
        type: r.type.slice(0, 64),
        paramsJson: "{}",
        state: "sent",
        issuedAt: r.finishedAtMs || this.now(),
        expiresAt: r.finishedAtMs || this.now(),
        signature: "",
        payloadSha256: "",
        requestedBy: "agent-local-policy",
        caseId: null,
        alertId: null,
        local: true,
        sentAt: null,
        finishedAt: null,
        reason: "",
        outputJson: "",
        undoOf: null,
      };
      await this.commands.insert(c);
      await this.step(c, "local_action", { type: c.type });
    }
    if (!["queued", "sent"].includes(c.state)) return;
    // Whatever an older agent wrote, a monitor-mode result reads the same everywhere.
    const reason = state === "not_enforced" ? "not enforced (monitor)" : r.reason.slice(0, 4096);
    await this.finish(c, state, reason, r.outputJson.slice(0, MAX_OUTPUT_CHARS), r.finishedAtMs);
  }

  private async finish(c: CommandEntity, state: CommandState, reason: string, output: string, at?: number): Promise<void> {
    const finishedAt = at && at > 0 ? at : this.now();
    if (!(await this.commands.finish(c.id, c.state, { state, reason, outputJson: output, finishedAt }))) return; // someone else finished it first
    Object.assign(c, { state, reason, outputJson: output, finishedAt });
    await this.step(c, state, { reason });
    await this.audit?.append({
      actor: c.local ? `agent:${c.agentId}` : "system",
      action: `command.${state}`,
      target: `agent:${c.agentId}`,
      details: { commandId: c.id, type: c.type, reason, local: c.local, payloadSha256: c.payloadSha256 },
    });
    this.emit(c);
  }

  /** Issues the command that reverses `id` (release for isolate, unblock for block_ip). */
  async undo(id: string, requestedBy: string): Promise<CommandEntity> {
    const c = await this.get(id);
    const u = undoOf(c.type, JSON.parse(c.paramsJson || "{}") as never);
    if (!u) throw new NotReversible(`a ${c.type} command cannot be undone`);
    if (c.state !== "succeeded") throw new NotReversible(`command ${id} is ${c.state}; only a succeeded ${c.type} can be undone`);
    return this.issue(c.agentId, u.type, { ...u.params, reason: `undo of ${c.id}` }, { requestedBy, caseId: c.caseId, alertId: c.alertId, undoOf: c.id });
  }

  async expireOverdue(): Promise<number> {
    const now = this.now();
    const overdue = await this.commands.overdue(now);
    for (const c of overdue) await this.finish(c, "expired", "expired without a result from the agent", "");
    return overdue.length;
  }

  async get(id: string): Promise<CommandEntity> {
    const c = await this.commands.byId(id);
    if (!c) throw new CommandNotFound(`command "${id.slice(0, 64)}" not found`);
    return c;
  }

  list(f: CommandFilter): Promise<CommandEntity[]> {
    return this.commands.list(f);
  }

  async history(commandId: string): Promise<ActionLogEntity[]> {
    return this.commands.steps(commandId);
  }

  private async step(c: CommandEntity, step: string, detail: Record<string, unknown>): Promise<void> {
    await this.commands.addStep({ time: this.now(), commandId: c.id, agentId: c.agentId, step, detail: JSON.stringify(detail) });
  }

  private emit(c: CommandEntity): void {
    for (const l of this.listeners) l(c);
  }
}

/** What the audit trail keeps of a command's params: why, and which files (never the contents). */
function auditedParams(type: string, p: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (typeof p.reason === "string") out.reason = p.reason;
  if (type === "collect_evidence") {
    if (p.filePath !== undefined) out.filePath = p.filePath;
    if (Array.isArray(p.sha256Paths)) out.sha256Paths = p.sha256Paths;
  }
  return out;
}

/** Types whose output is what was collected on the host: shown only to holders of evidence.read_output. */
const EVIDENCE_TYPES = new Set(["collect_evidence"]);

export interface ViewOptions {
  /** The viewer holds evidence.read_output. Off by default: push channels (stream, webhooks) never carry evidence. */
  showEvidence?: boolean;
}

export function commandView(c: CommandEntity, opts: ViewOptions = {}): Record<string, unknown> {
  let output: unknown = undefined;
  const hidden = EVIDENCE_TYPES.has(c.type) && !opts.showEvidence && c.outputJson !== "";
  if (c.outputJson && !hidden) {
    try {
      output = JSON.parse(c.outputJson);
    } catch {
      output = c.outputJson;
    }
  }
  const iso = (ms: number | null) => (ms ? new Date(ms).toISOString() : null);
  return {
    id: c.id,
    agentId: c.agentId,
    type: c.type,
    params: JSON.parse(c.paramsJson || "{}"),
    state: c.state,
    issuedAt: iso(c.issuedAt),
    expiresAt: iso(c.expiresAt),
    sentAt: iso(c.sentAt),
    finishedAt: iso(c.finishedAt),
    requestedBy: c.requestedBy,
    caseId: c.caseId,
    alertId: c.alertId,
    local: c.local,
    reason: c.reason,
    output,
    ...(hidden ? { outputRedacted: "evidence is shown to analyst and admin API keys only (GET /api/v1/commands/:id)" } : {}),
    payloadSha256: c.payloadSha256,
    undoOf: c.undoOf,
  };
}
