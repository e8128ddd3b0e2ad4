import { type Command, type CommandResult, CommandStatus, type PolicyUpdate, type Welcome } from "@vigil/proto";
import type { AgentConfig } from "../config/config";
import { type Enforcement, createEnforcement } from "../enforcement";
import type { EventPipeline } from "../pipeline/event-pipeline";
import type { ControllerLink } from "../transport/controller-link";
import type { Log } from "../util/log";
import { CommandGateway, type ResultMeta } from "./command-gateway";
import { ControllerEndpoints } from "./controller-endpoints";
import { isolationPolicyFor } from "./isolation-policy";
import { LocalPolicyRunner } from "./local-policy";
import { PinnedKeyMismatch, loadPinnedKey, pinOrVerify } from "./pinned-key";

/** CommandStatus → the spooled command_result event's status (controller/src/commands/result-events.ts reads it back). */
const RESULT_STATUS: Partial<Record<CommandStatus, string>> = {
  [CommandStatus.COMMAND_STATUS_SUCCEEDED]: "succeeded",
  [CommandStatus.COMMAND_STATUS_FAILED]: "failed",
  [CommandStatus.COMMAND_STATUS_REFUSED]: "refused",
  [CommandStatus.COMMAND_STATUS_NOT_ENFORCED]: "not_enforced",
};

export interface ResponseWiringOptions {
  cfg: AgentConfig;
  agentId: string;
  pipeline: EventPipeline;
  /** Resolved lazily: the link is built after this (it needs our command handler). */
  link: () => ControllerLink;
  hostname: () => string;
  log: Log;
}

/** Longest output copied into the spooled result event (the stream result carries all of it). */
const MAX_EVENT_OUTPUT_CHARS = 4096;

/**
 * The response half of the agent: enforcement handlers, the command gateway, the
 * pinned controller key and the local policy, wired to the pipeline (events in,
 * durable result reports out) and to the controller link.
 */
export class ResponseWiring {
  readonly enforcement: Enforcement;
  readonly gateway: CommandGateway;
  readonly policy: LocalPolicyRunner;
  readonly endpoints: ControllerEndpoints;
  private key?: Buffer;
  private isolatedCache = false;

  constructor(private readonly o: ResponseWiringOptions) {
    const { cfg, log } = o;
    this.endpoints = new ControllerEndpoints(cfg.controller, cfg.stateDir, log);
    this.enforcement = createEnforcement({
      stateDir: cfg.stateDir,
      evidenceDenyPaths: cfg.evidenceDeny,
      isolationPolicy: () => isolationPolicyFor(cfg, this.endpoints),
      checkControllerReachable: () => this.checkReachable(),
    });
    this.gateway = new CommandGateway({ stateDir: cfg.stateDir, agentId: o.agentId, handlers: this.enforcement.handlers, mode: cfg.enforcement, report: (r, m) => this.report(r, m), log });
    this.policy = new LocalPolicyRunner({
      stateDir: cfg.stateDir,
      agentId: o.agentId,
      hostname: o.hostname,
      gateway: this.gateway,
      key: () => this.key,
      isIsolated: () => this.isolated(),
      note: (kind, message, attributes) => this.o.pipeline.emit({ $case: "agent", agent: { kind, message, attributes } }, Date.now()),
      log,
      eventBudgetMs: cfg.policyEventBudgetMs,
    });
    o.pipeline.onEvent((ev) => this.policy.onEvent(ev));
  }

  /** Before the link starts: restore isolation and blocks, arm with the pinned key, load the policy. */
  async start(): Promise<void> {
    await this.endpoints.refresh();
    const { isolation, blocks } = this.enforcement;
    const iso = await isolation.reapplyOnStart().catch((e: Error) => ({ reapplied: false, error: e.message }));
    if (iso.reapplied) this.o.log.warn("host isolation re-applied from the state dir", { controller: this.endpoints.list() });
    if (iso.error) this.o.log.error("could not re-apply host isolation", { error: iso.error });
    // Only when there is something to restore: an agent without blocks creates no nftables table at all.
    if (safeList(() => blocks.list().length, this.o.log) > 0) {
      const bl = await blocks.reapplyOnStart().catch((e: Error) => ({ reapplied: 0, error: e.message }));
      if (bl.error) this.o.log.error("could not re-apply IP blocks", { error: bl.error });
      else this.o.log.info("IP blocks re-applied", { count: bl.reapplied });
    }
    try {
      const pinned = loadPinnedKey(this.o.cfg.stateDir);
      if (pinned) this.arm(pinned);
    } catch (e) {
      // Fail closed: a damaged pin accepts no controller until an operator fixes it.
      this.o.log.error("pinned controller key unreadable; no commands will be accepted", { error: (e as Error).message });
    }
    this.policy.start();
    this.refreshIsolated();
  }

  stop(): void {
    this.policy.stop();
  }

  /** Throws (which makes the link drop the stream) when the controller's key is not the pinned one. */
  onWelcome(w: Welcome): void {
    let key: Buffer;
    try {
      const r = pinOrVerify(this.o.cfg.stateDir, w.commandPublicKey);
      if (r.firstUse) this.o.log.warn("pinned the controller's command key on first use", { key: r.key.toString("base64") });
      key = r.key;
    } catch (e) {
      const fields = e instanceof PinnedKeyMismatch ? { pinned: e.pinnedB64, offered: e.offeredB64 } : { error: (e as Error).message };
      this.o.log.error("controller refused: command key does not match the pinned key", fields);
      throw e;
    }
    this.arm(key);
    void this.endpoints.refresh();
  }

  onPolicy(p: PolicyUpdate): void {
    this.policy.offer(p);
  }

  handleCommand(cmd: Command): Promise<CommandResult> {
    return this.gateway.handleCommand(cmd);
  }

  /** For AgentStatus: the persisted isolation intent (re-read every few seconds, never throws). */
  isolated(): boolean {
    this.refreshIsolated();
    return this.isolatedCache;
  }

  private refreshIsolated(): void {
    try {
      this.isolatedCache = this.enforcement.isolation.isIsolated();
    } catch (e) {
      this.o.log.error("isolation state unreadable", { error: (e as Error).message });
    }
  }

  private arm(key: Buffer): void {
    this.key = key;
    this.gateway.useControllerKey(key);
    this.policy.loadPersisted();
  }

  /**
   * Never strand a host: while connected, isolation must leave the controller reachable.
   * While disconnected (offline containment) there is nothing to prove: the rules still
   * allow the controller, and rolling back would leave the host open.
   */
  private async checkReachable(): Promise<boolean> {
    if (!this.o.link().stats.connected) {
      this.o.log.warn("isolating while the controller is unreachable; reachability will be proven on reconnect");
      return true;
    }
    return this.endpoints.reachable();
  }

  /** Every result: on the stream now if connected (local ones; the link answers commands itself), and durably in the spool. */
  private report(r: CommandResult, meta: ResultMeta): void {
    if (r.local) this.o.link().send({ msg: { $case: "result", result: r } });
    const attributes: Record<string, string> = {
      commandId: r.commandId,
      type: r.type,
      status: RESULT_STATUS[r.status] ?? "refused",
      local: String(r.local),
      finishedAtMs: String(r.finishedAtMs),
    };
    if (meta.ruleId) attributes.ruleId = meta.ruleId;
    if (r.outputJson && r.outputJson !== "{}") attributes.output = r.outputJson.length > MAX_EVENT_OUTPUT_CHARS ? r.outputJson.slice(0, MAX_EVENT_OUTPUT_CHARS) + "…" : r.outputJson;
    this.o.pipeline.emit({ $case: "agent", agent: { kind: "command_result", message: r.reason, attributes } }, r.finishedAtMs);
    if (r.type === "isolate" || r.type === "release") this.refreshIsolated();
  }
}

function safeList(count: () => number, log: Log): number {
  try {
    return count();
  } catch (e) {
    log.error("block state unreadable", { error: (e as Error).message });
    return 0;
  }
}
