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
  /** Parses untrusted params; throws ParamError naming the bad field. */
  validate(params: unknown): P;
  /** In monitor mode, reports what it would do and changes nothing. */
  run(params: P, mode: EnforcementMode, ctx: RunContext): Promise<HandlerOutcome>;
}

export class ParamError extends Error {
  constructor(readonly field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = "ParamError";
  }
}

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

// ---- tiny validators for untrusted params (no schema library needed for a handful of fields)

export function asObject(params: unknown): Record<string, unknown> {
  if (typeof params !== "object" || params === null || Array.isArray(params)) throw new ParamError("params", "must be a JSON object");
  return params as Record<string, unknown>;
}

export function rejectUnknownKeys(o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new ParamError(k, "unknown parameter");
}

export function optInt(o: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) throw new ParamError(key, `must be an integer in [${min}, ${max}]`);
  return v;
}

export function reqInt(o: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = optInt(o, key, min, max);
  if (v === undefined) throw new ParamError(key, "is required");
  return v;
}

export function optBool(o: Record<string, unknown>, key: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new ParamError(key, "must be a boolean");
  return v;
}

export function optString(o: Record<string, unknown>, key: string, maxLen: number, pattern?: RegExp): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || v.length === 0 || v.length > maxLen) throw new ParamError(key, `must be a non-empty string of at most ${maxLen} characters`);
  if (v.includes("\0")) throw new ParamError(key, "must not contain NUL");
  if (pattern && !pattern.test(v)) throw new ParamError(key, `must match ${pattern.source}`);
  return v;
}

export function reqString(o: Record<string, unknown>, key: string, maxLen: number, pattern?: RegExp): string {
  const v = optString(o, key, maxLen, pattern);
  if (v === undefined) throw new ParamError(key, "is required");
  return v;
}

export function optStringArray(o: Record<string, unknown>, key: string, maxItems: number, maxLen: number): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > maxItems) throw new ParamError(key, `must be an array of at most ${maxItems} strings`);
  return v.map((item, i) => {
    if (typeof item !== "string" || item.length === 0 || item.length > maxLen || item.includes("\0"))
      throw new ParamError(`${key}[${i}]`, `must be a non-empty string of at most ${maxLen} characters without NUL`);
    return item;
  });
}
