import { parsePrefix } from "@vigil/detection";
import { COMMAND_LIMITS } from "@vigil/proto";

/**
 * The parameters each command type takes, checked before anything is signed
 * so an API caller gets a 400 naming the parameter instead of a command the
 * agent will refuse. The agent validates again: it trusts only itself.
 */
export class CommandParamError extends Error {
  constructor(readonly param: string, message: string) {
    // A key is caller-chosen and may be huge: the error echoes only its start.
    super(`params.${param.slice(0, 64)}: ${message}`);
  }
}

type Check = (v: unknown, name: string) => unknown;

const str = (max: number): Check => (v, n) => {
  if (typeof v !== "string" || v.length === 0 || v.length > max) throw new CommandParamError(n, `expected a non-empty string of at most ${max} characters`);
  return v;
};
const int = (min: number, max: number): Check => (v, n) => {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) throw new CommandParamError(n, `expected an integer between ${min} and ${max}`);
  return v;
};
const bool: Check = (v, n) => {
  if (typeof v !== "boolean") throw new CommandParamError(n, "expected true or false");
  return v;
};
const strList = (maxItems: number, maxLen: number, item?: Check): Check => (v, n) => {
  if (!Array.isArray(v) || v.length > maxItems) throw new CommandParamError(n, `expected a list of at most ${maxItems} strings`);
  return v.map((x, i) => (item ?? str(maxLen))(x, `${n}[${i}]`));
};

// The agent parses the same text with the same module (detection/net), so both sides agree.
const cidr: Check = (v, n) => {
  if (typeof v !== "string") throw new CommandParamError(n, "expected a CIDR such as 10.0.0.0/8");
  if (!parsePrefix(v).ok) throw new CommandParamError(n, `expected a CIDR such as 10.0.0.0/8, got ${JSON.stringify(v.slice(0, 80))}`);
  return v;
};

interface Schema {
  required: Record<string, Check>;
  optional: Record<string, Check>;
  /** At least one of these must be present. */
  oneOf?: string[];
}

const reason = str(COMMAND_LIMITS.reasonMaxChars);

/** Absolute, canonical (no . or ..), no NUL, within the shared byte limit; the agent checks again and resolves links. */
const path: Check = (v, n) => {
  if (typeof v !== "string" || !v.startsWith("/")) throw new CommandParamError(n, "expected an absolute path");
  if (Buffer.byteLength(v) > COMMAND_LIMITS.pathMaxBytes) throw new CommandParamError(n, `longer than ${COMMAND_LIMITS.pathMaxBytes} bytes (COMMAND_LIMITS.pathMaxBytes)`);
  if (v.includes("\0")) throw new CommandParamError(n, "must not contain NUL");
  if (v.split("/").some((c) => c === "." || c === "..")) throw new CommandParamError(n, "must not contain . or .. components: give the canonical path");
  return v;
};
const fileMaxBytes: Check = (v, n) => {
  const max = COMMAND_LIMITS.evidenceFileMaxBytes;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1 || v > max)
    throw new CommandParamError(n, `expected an integer between 1 and ${max}: agents return at most ${max} bytes of a file (COMMAND_LIMITS.evidenceFileMaxBytes)`);
  return v;
};

export const COMMAND_SCHEMAS: Record<string, Schema> = {
  isolate: { required: {}, optional: { allowCidrs: strList(COMMAND_LIMITS.allowCidrsMax, 64, cidr), reason } },
  release: { required: {}, optional: { reason } },
  kill_process: { required: { pid: int(2, 4_194_304) }, optional: { startTimeMs: int(0, Number.MAX_SAFE_INTEGER), startTicks: int(0, Number.MAX_SAFE_INTEGER), tree: bool, reason } },
  terminate_session: { required: {}, optional: { sessionId: str(64), sshdPid: int(2, 4_194_304), startTicks: int(0, Number.MAX_SAFE_INTEGER), startTimeMs: int(0, Number.MAX_SAFE_INTEGER), user: str(64), tty: str(64), reason }, oneOf: ["sessionId", "sshdPid", "user"] },
  block_ip: { required: { ip: cidr }, optional: { ttlSeconds: int(1, 365 * 86400), reason } },
  unblock_ip: { required: { ip: cidr }, optional: { reason } },
  collect_evidence: {
    required: {},
    optional: { processes: bool, connections: bool, openFilesPid: int(1, 4_194_304), sha256Paths: strList(COMMAND_LIMITS.sha256PathsMax, COMMAND_LIMITS.pathMaxBytes, path), filePath: path, fileMaxBytes, reason },
    oneOf: ["processes", "connections", "openFilesPid", "sha256Paths", "filePath"],
  },
};

/** Does this (validated) command read a file's contents off the host? That needs its own permission and a reason. */
export function readsFileContents(type: string, params: Record<string, unknown>): boolean {
  return type === "collect_evidence" && params.filePath !== undefined;
}

export const COMMAND_TYPES = Object.keys(COMMAND_SCHEMAS);

export function validateCommandParams(type: string, params: unknown): Record<string, unknown> {
  const schema = COMMAND_SCHEMAS[type];
  if (!schema) throw new CommandParamError("type", `unknown command type ${JSON.stringify(type.slice(0, 64))}; expected one of ${COMMAND_TYPES.join(", ")}`);
  const p = params ?? {};
  if (typeof p !== "object" || Array.isArray(p)) throw new CommandParamError("", "params must be an object");
  const o = p as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) if (!(k in schema.required) && !(k in schema.optional)) throw new CommandParamError(k, `unknown parameter for ${type}; allowed: ${[...Object.keys(schema.required), ...Object.keys(schema.optional)].join(", ")}`);
  for (const [k, check] of Object.entries(schema.required)) {
    if (o[k] === undefined) throw new CommandParamError(k, `required for ${type}`);
    out[k] = check(o[k], k);
  }
  for (const [k, check] of Object.entries(schema.optional)) if (o[k] !== undefined) out[k] = check(o[k], k);
  if (schema.oneOf && !schema.oneOf.some((k) => o[k] !== undefined)) throw new CommandParamError(schema.oneOf.join("|"), `${type} needs one of ${schema.oneOf.join(", ")}`);
  if (readsFileContents(type, out) && !(typeof out.reason === "string" && out.reason.trim())) throw new CommandParamError("reason", "required (non-empty) to fetch a file's contents; it is stored with the command and audited");
  return out;
}

/**
 * Params a playbook author fixes in advance (the rest are derived from the alert):
 * each must be a known parameter of the type with a valid value.
 */
export function validatePresetParams(type: string, params: Record<string, unknown>): void {
  const schema = COMMAND_SCHEMAS[type];
  if (!schema) throw new CommandParamError("type", `unknown command type ${JSON.stringify(type.slice(0, 64))}`);
  for (const [k, v] of Object.entries(params)) {
    const check = schema.required[k] ?? schema.optional[k];
    if (!check) throw new CommandParamError(k, `unknown parameter for ${type}; allowed: ${[...Object.keys(schema.required), ...Object.keys(schema.optional)].join(", ")}`);
    check(v, k);
  }
}
