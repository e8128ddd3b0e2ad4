import { randomUUID } from "node:crypto";
import { COMMANDS, type Command, type CommandResult, CommandStatus, commandTypeOfCase, isCommandType } from "@vigil/proto";
import { type CommandHandler, type EnforcementMode, type HandlerOutcome, ParamError } from "../enforcement/handler";
import type { CommandVerifier } from "./verify";

/** What the agent's own policy engine asks for; it carries no signature. */
export interface LocalAction {
  /** Correlates the action with the rule hit; generated when absent. */
  id?: string;
  type: string;
  params: unknown;
}

export interface ExecutorOptions {
  verifier: CommandVerifier;
  handlers: readonly CommandHandler<unknown>[];
  /** Per type, so a new action can run observe-only while others enforce. */
  mode?: EnforcementMode | ((type: string) => EnforcementMode);
  /** A hung handler still yields a result; the action itself may complete later. */
  handlerTimeoutMs?: number;
  now?: () => number;
}

/**
 * Local policy only ever adds containment: the agent never lifts an isolation (or a
 * block) on its own, only an analyst's signed command does. Which types it may take is
 * decided per type in the shared command contract (COMMANDS[type].localPolicy).
 */
function allowedLocally(type: string): boolean {
  return isCommandType(type) && COMMANDS[type].localPolicy;
}

/** The type a refused command claimed, for its result: the params case, else the legacy field. */
function claimedType(cmd: Command): string {
  if (cmd.params) return commandTypeOfCase(cmd.params.$case);
  return typeof cmd.type === "string" ? cmd.type.slice(0, 64) : "";
}

/**
 * The single gate between the transport (or the local policy engine) and the
 * enforcement handlers. Every call ends in a CommandResult; nothing throws out of here.
 */
export class CommandExecutor {
  private readonly handlers = new Map<string, CommandHandler<unknown>>();
  private readonly now: () => number;

  constructor(private readonly opts: ExecutorOptions) {
    for (const h of opts.handlers) {
      if (this.handlers.has(h.type)) throw new Error(`duplicate handler for ${h.type}`);
      this.handlers.set(h.type, h);
    }
    this.now = opts.now ?? Date.now;
  }

  types(): string[] {
    return [...this.handlers.keys()];
  }

  /** A command from the controller: verified, then run. */
  async execute(cmd: Command): Promise<CommandResult> {
    const id = typeof cmd.id === "string" ? cmd.id.slice(0, 128) : "";
    const v = this.opts.verifier.verify(cmd);
    if (!v.ok) return this.result(id, claimedType(cmd), false, CommandStatus.COMMAND_STATUS_REFUSED, `${v.code}: ${v.reason}`);
    return this.dispatch(id, v.type, v.params, false);
  }

  /** An action from the agent's own local policy (offline autonomy); reported with local = true. */
  async executeLocal(action: LocalAction): Promise<CommandResult> {
    const id = action.id ?? `local-${randomUUID()}`;
    if (!allowedLocally(action.type)) return this.result(id, action.type, true, CommandStatus.COMMAND_STATUS_REFUSED, `forbidden: local policy may not ${action.type}; only a signed command can`);
    return this.dispatch(id, action.type, action.params, true);
  }

  private async dispatch(id: string, type: string, rawParams: unknown, local: boolean): Promise<CommandResult> {
    const handler = this.handlers.get(type);
    if (!handler) return this.result(id, type, local, CommandStatus.COMMAND_STATUS_REFUSED, `unknown_type: no handler for ${JSON.stringify(type)}`);
    let params: unknown;
    try {
      params = handler.validate(rawParams);
    } catch (e) {
      const msg = e instanceof ParamError ? e.message : `invalid params: ${(e as Error).message}`;
      return this.result(id, type, local, CommandStatus.COMMAND_STATUS_REFUSED, `malformed: ${msg}`);
    }
    const mode = typeof this.opts.mode === "function" ? this.opts.mode(type) : (this.opts.mode ?? "enforce");
    let outcome: HandlerOutcome;
    try {
      outcome = await this.withTimeout(handler.run(params, mode, { commandId: id, local }), type);
    } catch (e) {
      outcome = { ok: false, reason: `handler error: ${(e as Error).message}`, output: {} };
    }
    const status = outcome.notEnforced ? CommandStatus.COMMAND_STATUS_NOT_ENFORCED : outcome.ok ? CommandStatus.COMMAND_STATUS_SUCCEEDED : CommandStatus.COMMAND_STATUS_FAILED;
    return this.result(id, type, local, status, outcome.reason, outcome.output);
  }

  private withTimeout(p: Promise<HandlerOutcome>, type: string): Promise<HandlerOutcome> {
    const ms = this.opts.handlerTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<HandlerOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, reason: `${type} did not finish within ${ms} ms (it may still complete)`, output: {} }), ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }

  private result(commandId: string, type: string, local: boolean, status: CommandStatus, reason: string, output: Record<string, unknown> = {}): CommandResult {
    return { commandId, type, local, status, reason, outputJson: JSON.stringify(output), finishedAtMs: this.now() };
  }
}
