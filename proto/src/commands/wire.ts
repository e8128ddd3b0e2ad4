import type { Command } from "../gen/vigil/v1/agent";
import { COMMANDS, COMMAND_TYPES, type CommandParamsCase, type CommandType, type ParamsOf } from "./contract";
import { canonicalParamsJson, validateCommandParams } from "./validate";

/*
 * The only code that reads or writes Command's deprecated type/params_json: while agents
 * that predate the params oneof are deployed, the controller sends both, and an agent
 * that knows the oneof rebuilds the signed JSON from it and ignores them.
 */

const TYPE_OF_CASE = new Map<string, CommandType>(COMMAND_TYPES.map((t) => [COMMANDS[t].oneofCase, t]));

export function commandTypeOfCase(c: CommandParamsCase): CommandType {
  const t = TYPE_OF_CASE.get(c);
  if (!t) throw new Error(`no command type for params case ${c}`);
  return t;
}

/** The oneof value that carries validated params of this type. */
export function typedParams(type: CommandType, params: ParamsOf<CommandType>): NonNullable<Command["params"]> {
  const c = COMMANDS[type].oneofCase;
  return { $case: c, [c]: params } as unknown as NonNullable<Command["params"]>;
}

export interface UnsignedCommand {
  id: string;
  agentId: string;
  type: string;
  /** The canonical JSON (canonicalParamsJson) of the params: what the signature covers. */
  paramsJson: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

/**
 * The wire message for a stored command: the typed oneof when the stored JSON is the
 * canonical form of valid params (so an agent rebuilding it from the oneof signs the same
 * bytes), and the legacy fields always. A command stored before the oneof (JSON in another
 * key order) goes out legacy-only and is still verified by every agent.
 */
export function toWireCommand(c: UnsignedCommand, signature: Buffer): Command {
  const wire: Command = { id: c.id, agentId: c.agentId, type: c.type, paramsJson: c.paramsJson, issuedAtMs: c.issuedAtMs, expiresAtMs: c.expiresAtMs, signature };
  try {
    const p = validateCommandParams(c.type, JSON.parse(c.paramsJson === "" ? "{}" : c.paramsJson) as unknown);
    const type = c.type as CommandType;
    if (canonicalParamsJson(type, p) === c.paramsJson) wire.params = typedParams(type, p);
  } catch {
    // Not a params_json the contract reads: legacy fields only; the agent refuses or runs it as before.
  }
  return wire;
}

export type SignedFields = { ok: true; type: string; paramsJson: string; typed: boolean } | { ok: false; reason: string };

/**
 * What the signature of a received command covers: the type named by the oneof case and the
 * canonical JSON rebuilt from the typed params, or (from an older controller) the legacy fields.
 * Tampering with any typed field changes the rebuilt JSON and so breaks the signature.
 */
export function signedCommandFields(cmd: Command): SignedFields {
  if (!cmd.params) return { ok: true, type: cmd.type, paramsJson: cmd.paramsJson, typed: false };
  const type = TYPE_OF_CASE.get(cmd.params.$case);
  if (!type) return { ok: false, reason: "unknown params case" };
  if (cmd.type !== "" && cmd.type !== type) return { ok: false, reason: `type ${JSON.stringify(cmd.type.slice(0, 64))} does not match the params (${type})` };
  const value = (cmd.params as unknown as Record<string, unknown>)[cmd.params.$case];
  if (typeof value !== "object" || value === null) return { ok: false, reason: "typed params missing" };
  return { ok: true, type, paramsJson: canonicalParamsJson(type, value as ParamsOf<CommandType>), typed: true };
}
