import { compilePatterns, MAX_PATTERN_LENGTH, wildcardMatcher, type CompiledPattern, type FieldPattern, type FieldValue } from "./field-match";

/** What a suppression is checked against: one alert (or rule match about to become one). */
export interface AlertContext {
  ruleId: string;
  agentTags?: readonly string[];
  /**
   * Flat fields of the alert, named as in Sigma rules: the `fields` of the matched event's
   * SigmaEvent (`toSigmaEvent`: AgentId, Hostname, User, SourceIp, Image, CommandLine, ...).
   * Arrays match when any element does.
   */
  fields: Readonly<Record<string, FieldValue | readonly FieldValue[]>>;
}

/**
 * Suppresses matching alerts (an allowlist entry is the same thing with a reason like "backup job").
 * Every given condition must hold: rule (wildcards allowed), each field, every listed agent tag.
 */
export interface Suppression {
  id: string;
  ruleId?: string;
  fields?: Record<string, FieldPattern | FieldPattern[]>;
  /** The agent must carry all of these tags. */
  agentTags?: string[];
  expiresAtMs?: number;
  reason: string;
  createdBy?: string;
  createdAtMs?: number;
}

interface Compiled {
  rule?: (ruleId: string) => boolean;
  fields: [string, CompiledPattern][];
  tags: string[];
}

export type SuppressionCheck = { ok: true; suppression: Suppression } | { ok: false; errors: { field: string; message: string }[] };

/**
 * Validates a suppression as received from the API or a file, naming every bad field. A
 * suppression that names no rule, field or tag would silence everything and is refused.
 */
export function validateSuppression(raw: unknown): SuppressionCheck {
  const errors: { field: string; message: string }[] = [];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { ok: false, errors: [{ field: "", message: "suppression must be an object" }] };
  const s = raw as Record<string, unknown>;
  const err = (field: string, message: string) => errors.push({ field, message: `${field}: ${message}` });
  if (typeof s.id !== "string" || s.id === "") err("id", "must be a non-empty string");
  if (typeof s.reason !== "string" || s.reason.trim() === "") err("reason", "must say why (non-empty string)");
  if (s.ruleId !== undefined && (typeof s.ruleId !== "string" || s.ruleId === "")) err("ruleId", "must be a non-empty string");
  else if (typeof s.ruleId === "string" && s.ruleId.length > MAX_PATTERN_LENGTH) err("ruleId", `is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (s.expiresAtMs !== undefined && !(typeof s.expiresAtMs === "number" && Number.isFinite(s.expiresAtMs))) err("expiresAtMs", "must be epoch milliseconds");
  if (s.agentTags !== undefined && !(Array.isArray(s.agentTags) && s.agentTags.every((t) => typeof t === "string" && t !== ""))) {
    err("agentTags", "must be a list of non-empty strings");
  }
  let fieldCount = 0;
  if (s.fields !== undefined) {
    if (typeof s.fields !== "object" || s.fields === null || Array.isArray(s.fields)) err("fields", "must be an object of field name to pattern");
    else {
      for (const [name, p] of Object.entries(s.fields)) {
        fieldCount++;
        const c = compilePatterns(p, `fields.${name}`);
        if (!c.ok) errors.push({ field: `fields.${name}`, message: c.error });
      }
    }
  }
  const hasTags = Array.isArray(s.agentTags) && s.agentTags.length > 0;
  if (s.ruleId === undefined && fieldCount === 0 && !hasTags) err("ruleId", "a suppression needs at least one of ruleId, fields or agentTags");
  return errors.length > 0 ? { ok: false, errors } : { ok: true, suppression: raw as Suppression };
}

// Compiled once per suppression object and reused; callers keep their list between alerts.
const cache = new WeakMap<Suppression, Compiled>();

function compiled(s: Suppression): Compiled {
  let c = cache.get(s);
  if (c) return c;
  const fields: [string, CompiledPattern][] = [];
  for (const [name, p] of Object.entries(s.fields ?? {})) {
    const r = compilePatterns(p, `fields.${name}`);
    if (!r.ok) throw new Error(`suppression ${s.id}: ${r.error} (validate suppressions with validateSuppression before use)`);
    fields.push([name, r.match]);
  }
  c = { ...(s.ruleId !== undefined ? { rule: wildcardMatcher(s.ruleId) } : {}), fields, tags: (s.agentTags ?? []).map((t) => t.toLowerCase()) };
  cache.set(s, c);
  return c;
}

export function suppressionMatches(s: Suppression, ctx: AlertContext, nowMs: number): boolean {
  if (s.expiresAtMs !== undefined && nowMs >= s.expiresAtMs) return false;
  const c = compiled(s);
  if (c.rule && !c.rule(ctx.ruleId)) return false;
  if (c.tags.length > 0) {
    const have = new Set((ctx.agentTags ?? []).map((t) => t.toLowerCase()));
    if (!c.tags.every((t) => have.has(t))) return false;
  }
  return c.fields.every(([name, match]) => {
    const v = ctx.fields[name];
    return Array.isArray(v) ? v.some((x: FieldValue) => match(x)) : match(v as FieldValue);
  });
}

/** The first live suppression that matches the alert, or undefined. */
export function isSuppressed(suppressions: readonly Suppression[], ctx: AlertContext, nowMs: number): Suppression | undefined {
  return suppressions.find((s) => suppressionMatches(s, ctx, nowMs));
}
