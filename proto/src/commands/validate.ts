import { CommandParamError, checkField } from "./fields";
import { COMMANDS, type CommandSpec, type CommandType, type ParamsOf, commandSpec, isCommandType } from "./contract";

/*
 * What both ends do with the contract's table: check untrusted params, build the JSON a
 * signature covers, and answer the questions the table decides (file contents, undo).
 */

function allowedKeys(spec: CommandSpec<CommandType>): string {
  return spec.fields.map((f) => f.name).join(", ");
}

/**
 * Checks untrusted params (API body, playbook, local policy, params_json, or a decoded
 * typed message) against the type's definition and returns them as the typed message
 * (absent fields left out). One pass over the given keys and one over the fields: linear
 * in the input, every string and list bounded before it is walked.
 */
export function validateCommandParams<T extends CommandType>(type: T, params: unknown): ParamsOf<T>;
export function validateCommandParams(type: string, params: unknown): ParamsOf<CommandType>;
export function validateCommandParams(type: string, params: unknown): ParamsOf<CommandType> {
  const spec = commandSpec(type);
  const raw = params ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new CommandParamError("params", "must be a JSON object");
  const o = raw as Record<string, unknown>;
  const known = new Set(spec.fields.map((f) => f.name));
  for (const k of Object.keys(o)) if (!known.has(k)) throw new CommandParamError(k, `unknown parameter for ${type}; allowed: ${allowedKeys(spec)}`);
  const out: Record<string, unknown> = {};
  for (const f of spec.fields) {
    const v = o[f.name];
    // A decoded proto message carries absent optionals as undefined and an empty repeated field as []: both mean "not given".
    if (v === undefined || v === null || (f.rule.kind === "list" && Array.isArray(v) && v.length === 0)) {
      if (f.required) throw new CommandParamError(f.name, "is required");
      // Lists are always present in the typed message (as protobuf repeated fields are).
      if (f.rule.kind === "list") out[f.name] = [];
      continue;
    }
    out[f.name] = checkField(f.rule, v, f.name);
  }
  const typed = out as unknown as ParamsOf<CommandType>;
  spec.check?.(typed as never);
  return typed;
}

/**
 * Params a playbook author fixes in advance (the rest are derived from the alert): each
 * must be a known parameter of the type with a valid value; rules across fields wait for issue time.
 */
export function validatePresetParams(type: string, params: Record<string, unknown>): void {
  const spec = commandSpec(type);
  for (const [k, v] of Object.entries(params)) {
    const f = spec.fields.find((x) => x.name === k);
    if (!f) throw new CommandParamError(k, `unknown parameter for ${type}; allowed: ${allowedKeys(spec)}`);
    checkField(f.rule, v, k);
  }
}

/**
 * The JSON a signature covers: the params in the definition's field order, absent ones
 * (and empty lists) left out. Both ends build it from the typed params, so the controller's
 * params_json and the agent's reconstruction from the oneof are the same bytes.
 */
export function canonicalParamsJson(type: CommandType, params: ParamsOf<CommandType>): string {
  const p = params as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of COMMANDS[type].fields) {
    const v = p[f.name];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    out[f.name] = v;
  }
  return JSON.stringify(out);
}

export function readsFileContents(type: string, params: ParamsOf<CommandType>): boolean {
  return isCommandType(type) && COMMANDS[type].readsFileContents(params as never);
}

/** The command that reverses one of this type with these params, or undefined when none can. */
export function undoOf(type: string, params: ParamsOf<CommandType>): { type: CommandType; params: Record<string, unknown> } | undefined {
  if (!isCommandType(type)) return undefined;
  const u = COMMANDS[type].undo as CommandSpec<CommandType>["undo"];
  return u ? { type: u.type, params: u.params(params) } : undefined;
}
