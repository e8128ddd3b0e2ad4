/**
 * The one shape every response action has. Handlers are only ever reached through
 * the CommandExecutor (signed command or the agent's own local policy).
 */
export type EnforcementMode = "enforce" | "monitor";

export interface HandlerOutcome {
  ok: boolean;
  /** Why it failed, or a short note (e.g. "not enforced (monitor)"). */
  reason: string;
  /** Monitor mode: valid, reported with what it would do, and nothing done (COMMAND_STATUS_NOT_ENFORCED). */
  notEnforced?: boolean;
  /** JSON-serialisable details reported back in CommandResult.output_json. */
  output: Record<string, unknown>;
}

/** Who asked: recorded in persisted enforcement state so an action can be traced. */
export interface RunContext {
  commandId: string;
  /** True when the agent acted on its own local policy. */
  local: boolean;
}

export interface CommandHandler<P = unknown> {
  readonly type: string;
  /**
   * Parses untrusted params; throws ParamError naming the bad field. For the contract's
   * command types this is validateCommandParams (proto/src/commands) plus the handler's
   * own shaping; a handler adds no parameter rules of its own.
   */
  validate(params: unknown): P;
  /** In monitor mode, reports what it would do and changes nothing. */
  run(params: P, mode: EnforcementMode, ctx: RunContext): Promise<HandlerOutcome>;
}

/** A bad parameter, naming the field and the bound (the shared contract's error, so both ends word it alike). */
export { CommandParamError as ParamError } from "@vigil/proto";

export function succeeded(output: Record<string, unknown>, reason = ""): HandlerOutcome {
  return { ok: true, reason, output };
}

export function failed(reason: string, output: Record<string, unknown> = {}): HandlerOutcome {
  return { ok: false, reason, output };
}

export const NOT_ENFORCED_REASON = "not enforced (monitor)";

export function monitored(wouldDo: string[], output: Record<string, unknown> = {}): HandlerOutcome {
  return { ok: true, notEnforced: true, reason: NOT_ENFORCED_REASON, output: { mode: "monitor", wouldDo, ...output } };
}
