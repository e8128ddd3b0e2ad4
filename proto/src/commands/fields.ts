import { isIP } from "node:net";
import { COMMAND_LIMITS } from "../command-limits";

/**
 * A parameter that fails its rule. `field` names it ("pid", "allowCidrs[3]", or "params"
 * for a rule across fields); `problem` says which bound it broke. Each end words the
 * whole message its own way (the API prefixes "params.", the agent "malformed: ").
 */
export class CommandParamError extends Error {
  constructor(
    readonly field: string,
    readonly problem: string,
  ) {
    // A key is caller-chosen and may be huge: the message echoes only its start.
    super(`${field.slice(0, 64)}: ${problem}`);
    this.name = "CommandParamError";
  }
}

/**
 * One parameter's rule, as data: the validator, the canonical JSON order and the JSON
 * schema export all read the same description, so they cannot drift apart.
 */
export type FieldRule =
  | { kind: "int"; min: number; max: number; message?: string }
  | { kind: "bool" }
  | { kind: "string"; maxChars: number; pattern?: RegExp }
  | { kind: "path" }
  | { kind: "ip" }
  | { kind: "list"; maxItems: number; item: Exclude<FieldRule, { kind: "list" }> };

export interface FieldSpec {
  /** The JSON key, and the camelCase name of the field in the proto message. */
  name: string;
  rule: FieldRule;
  required?: boolean;
  description: string;
}

/**
 * A lone UTF-16 surrogate cannot be encoded as UTF-8: protobuf would turn it into U+FFFD on the
 * way, the agent would rebuild other JSON than was signed and refuse a genuine command.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** Absolute, canonical (no . or ..), no NUL, within the shared byte limit. The agent resolves links itself. */
function checkPath(v: unknown, field: string): string {
  if (typeof v !== "string" || !v.startsWith("/")) throw new CommandParamError(field, "must be an absolute path");
  // Characters first: a string longer than the limit in characters is over it in bytes, without encoding it.
  const max = COMMAND_LIMITS.pathMaxBytes;
  if (v.length > max || Buffer.byteLength(v) > max) throw new CommandParamError(field, `longer than ${max} bytes (COMMAND_LIMITS.pathMaxBytes)`);
  if (v.includes("\0")) throw new CommandParamError(field, "must not contain NUL");
  if (LONE_SURROGATE.test(v)) throw new CommandParamError(field, "must be valid Unicode (no lone surrogates)");
  if (v.split("/").some((c) => c === "." || c === "..")) throw new CommandParamError(field, "must not contain . or .. components: give the canonical path");
  return v;
}

/**
 * "addr" or "addr/len" as node's own address parser reads it. Only such text reaches the
 * agent's nftables rulesets (which canonicalise it again), so a parameter cannot carry ruleset syntax.
 */
function checkIp(v: unknown, field: string): string {
  const max = COMMAND_LIMITS.ipMaxChars;
  if (typeof v !== "string" || v.length === 0 || v.length > max) throw new CommandParamError(field, `must be an IP address or CIDR of at most ${max} characters`);
  const slash = v.indexOf("/");
  const addr = slash === -1 ? v : v.slice(0, slash);
  // A zone id ("fe80::1%eth0") names an interface, not an address nft can match.
  const family = addr.includes("%") ? 0 : isIP(addr);
  if (family === 0) throw new CommandParamError(field, `not an IP address or CIDR: ${JSON.stringify(v)}`);
  if (slash !== -1) {
    const len = v.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len) || Number(len) > (family === 4 ? 32 : 128)) throw new CommandParamError(field, `bad prefix length in ${JSON.stringify(v)}`);
  }
  return v;
}

/** Checks one value against its rule; returns it unchanged (rules never rewrite a value). */
export function checkField(rule: FieldRule, v: unknown, field: string): unknown {
  switch (rule.kind) {
    case "int":
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < rule.min || v > rule.max) throw new CommandParamError(field, rule.message ?? `must be an integer in [${rule.min}, ${rule.max}]`);
      return v;
    case "bool":
      if (typeof v !== "boolean") throw new CommandParamError(field, "must be a boolean");
      return v;
    case "string":
      if (typeof v !== "string" || v.length === 0 || v.length > rule.maxChars) throw new CommandParamError(field, `must be a non-empty string of at most ${rule.maxChars} characters`);
      if (v.includes("\0")) throw new CommandParamError(field, "must not contain NUL");
      if (LONE_SURROGATE.test(v)) throw new CommandParamError(field, "must be valid Unicode (no lone surrogates)");
      // Every pattern here is a plain character class or alternation: linear on a bounded string.
      if (rule.pattern && !rule.pattern.test(v)) throw new CommandParamError(field, `must match ${rule.pattern.source}`);
      return v;
    case "path":
      return checkPath(v, field);
    case "ip":
      return checkIp(v, field);
    case "list":
      if (!Array.isArray(v) || v.length > rule.maxItems) throw new CommandParamError(field, `must be a list of at most ${rule.maxItems} items`);
      return v.map((x, i) => checkField(rule.item, x, `${field}[${i}]`));
  }
}

/** The JSON schema of one rule (for API documents); the checker above stays the authority. */
export function fieldJsonSchema(rule: FieldRule): Record<string, unknown> {
  switch (rule.kind) {
    case "int":
      return { type: "integer", minimum: rule.min, maximum: rule.max };
    case "bool":
      return { type: "boolean" };
    case "string":
      return { type: "string", minLength: 1, maxLength: rule.maxChars, ...(rule.pattern ? { pattern: rule.pattern.source } : {}) };
    case "path":
      return {
        type: "string",
        pattern: "^/",
        maxLength: COMMAND_LIMITS.pathMaxBytes,
        description: "absolute, canonical path (no . or .. components), at most COMMAND_LIMITS.pathMaxBytes UTF-8 bytes",
      };
    case "ip":
      return { type: "string", minLength: 1, maxLength: COMMAND_LIMITS.ipMaxChars, description: "IPv4/IPv6 address or CIDR" };
    case "list":
      return { type: "array", maxItems: rule.maxItems, items: fieldJsonSchema(rule.item) };
  }
}
