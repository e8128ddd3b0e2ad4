/** Parses and checks a correlation rule's `correlation` section (references are resolved later). */
import { fail } from "./errors";
import type { CorrelationType } from "./types";

export interface CountCondition {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  eq?: number;
  neq?: number;
}

export interface CorrelationSpec {
  type: CorrelationType;
  /** rule ids or names, as written */
  refs: string[];
  groupBy: string[];
  timespanMs: number;
  condition: CountCondition;
  /** value_count: the field whose distinct values are counted; value_sum/avg/percentile: the field aggregated */
  field?: string;
  /** alias -> (rule name or id -> field) */
  aliases: Map<string, Map<string, string>>;
  /**
   * "early": the condition can only become more true as inputs arrive (lower bounds on counts,
   * distinct values, rules seen, ordered steps, or a sum of values that cannot be negative), so it
   * fires the moment it holds over a sliding window. "at_window_close": anything with an upper
   * bound, an average or a share is decided once the window is complete.
   */
  firing: CorrelationFiring;
}

export type CorrelationFiring = "early" | "at_window_close";

/**
 * Fields whose values can never be negative (counters, sizes and ports of Vigil's own events),
 * so a sum over them only grows. value_sum over any other field waits for the window to close.
 */
export const NON_NEGATIVE_FIELDS: ReadonlySet<string> = new Set(["BytesSent", "BytesReceived", "FileSize", "SourcePort", "DestinationPort"]);

const TYPES: CorrelationType[] = ["event_count", "value_count", "temporal", "temporal_ordered", "value_sum", "value_avg", "value_percentile"];
/** Aggregations over a field; decided when the window closes. */
export const AGGREGATES: readonly CorrelationType[] = ["value_sum", "value_avg", "value_percentile"];
const OPS = ["gt", "gte", "lt", "lte", "eq", "neq"] as const;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function parseTimespan(v: unknown): number {
  const m = typeof v === "string" ? /^(\d+)\s*([smhdw])$/.exec(v.trim()) : null;
  if (!m || Number(m[1]) === 0) fail(`timespan ${JSON.stringify(v)} must look like 30s, 10m, 1h, 2d or 1w`, "timespan", ["correlation", "timespan"]);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as "s"];
  return Number(m[1]) * unit;
}

export function parseCorrelation(c: unknown): CorrelationSpec {
  if (!isRecord(c)) fail(`'correlation' must be a map`, "correlation", ["correlation"]);
  const type = c.type as CorrelationType;
  if (!TYPES.includes(type)) fail(`correlation type ${JSON.stringify(c.type)} is not supported (supported: ${TYPES.join(", ")})`, `correlation type '${String(c.type)}'`, ["correlation", "type"]);
  const refs = typeof c.rules === "string" ? [c.rules] : c.rules;
  if (!Array.isArray(refs) || refs.length === 0 || !refs.every((r) => typeof r === "string")) fail(`'rules' must list the referenced rule ids or names`, "correlation rules", ["correlation", "rules"]);
  const gb = c["group-by"] ?? [];
  const groupBy = typeof gb === "string" ? [gb] : gb;
  if (!Array.isArray(groupBy) || !groupBy.every((g) => typeof g === "string")) fail(`'group-by' must be a list of field names`, "group-by", ["correlation", "group-by"]);
  const timespanMs = parseTimespan(c.timespan);

  const condition: CountCondition = {};
  let field: string | undefined;
  if (c.condition !== undefined) {
    if (!isRecord(c.condition)) fail(`'condition' must be a map such as {gte: 5}`, "correlation condition", ["correlation", "condition"]);
    for (const [k, v] of Object.entries(c.condition)) {
      if (k === "field") {
        if (typeof v !== "string" && !(Array.isArray(v) && v.every((x) => typeof x === "string")))
          fail(`condition 'field' must be a field name`, "correlation condition field", ["correlation", "condition", k]);
        if (Array.isArray(v) && v.length !== 1) fail(`counting distinct combinations of several fields is not supported`, "value_count multiple fields", ["correlation", "condition", k]);
        field = Array.isArray(v) ? (v[0] as string) : v;
      } else if ((OPS as readonly string[]).includes(k)) {
        if (typeof v !== "number" || !Number.isFinite(v)) fail(`condition '${k}' needs a number`, "correlation condition", ["correlation", "condition", k]);
        condition[k as (typeof OPS)[number]] = v;
      } else fail(`unknown correlation condition operator '${k}'`, `correlation condition '${k}'`, ["correlation", "condition", k]);
    }
  }
  const hasOp = OPS.some((o) => condition[o] !== undefined);
  if ((type === "event_count" || type === "value_count" || AGGREGATES.includes(type)) && !hasOp) fail(`${type} needs a condition such as {gte: 5}`, "correlation condition", ["correlation"]);
  if ((type === "value_count" || AGGREGATES.includes(type)) && !field) fail(`${type} needs 'field' in its condition`, `${type} field`, ["correlation", "condition"]);
  if (type === "temporal" || type === "temporal_ordered") {
    // Default: every referenced rule must have matched.
    if (!hasOp) condition.gte = refs.length;
    if (type === "temporal_ordered" && (condition.gte !== refs.length || OPS.some((o) => o !== "gte" && condition[o] !== undefined)))
      fail(`temporal_ordered only supports the full ordered sequence (no custom condition)`, "temporal_ordered condition", ["correlation", "condition"]);
  }

  const aliases = new Map<string, Map<string, string>>();
  if (c.aliases !== undefined) {
    if (!isRecord(c.aliases)) fail(`'aliases' must map alias -> (rule -> field)`, "aliases", ["correlation", "aliases"]);
    for (const [alias, m] of Object.entries(c.aliases)) {
      if (!isRecord(m) || !Object.values(m).every((x) => typeof x === "string")) fail(`alias '${alias}' must map rule names to field names`, "aliases", ["correlation", "aliases", alias]);
      aliases.set(alias, new Map(Object.entries(m as Record<string, string>)));
    }
  }
  const lowerBoundsOnly = condition.lt === undefined && condition.lte === undefined && condition.eq === undefined && condition.neq === undefined;
  // Averages and shares are only known once the window is complete; sums only grow over non-negative values.
  const growing = !AGGREGATES.includes(type) || (type === "value_sum" && NON_NEGATIVE_FIELDS.has(field!));
  const firing: CorrelationFiring = lowerBoundsOnly && growing ? "early" : "at_window_close";
  return { type, refs: refs as string[], groupBy: groupBy as string[], timespanMs, condition, field, aliases, firing };
}

export function conditionHolds(c: CountCondition, n: number): boolean {
  return (
    (c.gt === undefined || n > c.gt) &&
    (c.gte === undefined || n >= c.gte) &&
    (c.lt === undefined || n < c.lt) &&
    (c.lte === undefined || n <= c.lte) &&
    (c.eq === undefined || n === c.eq) &&
    (c.neq === undefined || n !== c.neq)
  );
}

/** For early (lower-bound) count conditions: the count at which the condition first holds. */
export function threshold(c: CountCondition): number {
  return Math.max(c.gt !== undefined ? Math.floor(c.gt) + 1 : 1, c.gte !== undefined ? Math.ceil(c.gte) : 1);
}

/** A finite number, or a string that is one; anything else is not a value to aggregate. */
export function asNumber(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}
