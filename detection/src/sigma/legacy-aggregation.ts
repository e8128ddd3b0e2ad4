/**
 * Sigma's first aggregation syntax, still found in public rule sets:
 *
 *   detection:
 *     selection: ...
 *     timeframe: 10m
 *     condition: selection | count(TargetUser) by SourceIp > 3
 *
 * It means the same as a correlation over the plain detection, so it is rewritten into
 * one: a hidden base rule (the condition before the pipe) and an event_count
 * (`count()`) or value_count (`count(field)`) correlation carrying the rule's own
 * title, id, level and tags. Other aggregate functions (min, max, avg, sum) and `near`
 * have no correlation equivalent here and are refused by name.
 */
import { fail } from "./errors";

const AGG = /^(.*?)\s*\|\s*(\w+)\(\s*([\w.-]*)\s*\)\s*(?:by\s+([\w.-]+(?:\s*,\s*[\w.-]+)*)\s*)?(>=|<=|==|!=|>|<|=)\s*(\d+(?:\.\d+)?)\s*$/s;
const OPS: Record<string, string> = { ">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq", "==": "eq", "!=": "neq" };
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export interface LegacySplit {
  /** A detection rule (no aggregation) named `baseName`. */
  base: Record<string, unknown>;
  baseName: string;
  /** A correlation rule over `baseName`, with the original rule's identity. */
  correlation: Record<string, unknown>;
}

/** Returns the rewrite when `body` uses the legacy aggregation syntax, else null. */
export function splitLegacyAggregation(body: Record<string, unknown>, fallbackId: string): LegacySplit | null {
  const det = body.detection;
  if (!isRecord(det) || typeof det.condition !== "string" || !det.condition.includes("|")) return null;
  const m = AGG.exec(det.condition);
  if (!m) fail(`cannot read the aggregation in condition '${det.condition}' (expected: <condition> | count([field]) [by field] <op> <number>)`, "legacy aggregation", ["detection", "condition"]);
  const [, expr, fn, field, by, op, n] = m;
  if (fn !== "count") fail(`legacy aggregation '${fn}()' is not supported; only count() and count(field) have a correlation equivalent`, `aggregation '${fn}'`, ["detection", "condition"]);
  if (det.timeframe === undefined) fail(`an aggregation needs 'timeframe' (the window it counts in)`, "timeframe", ["detection", "condition"]);
  const { timeframe, condition: _condition, ...idents } = det;
  const id = typeof body.id === "string" ? body.id : fallbackId;
  const baseName = `${id}:aggregation-input`;
  const base: Record<string, unknown> = { ...body, id: baseName, name: baseName, detection: { ...idents, condition: expr } };
  const condition: Record<string, unknown> = { [OPS[op!]!]: Number(n) };
  if (field) condition.field = field;
  const { detection: _d, logsource: _l, name: _n, ...identity } = body;
  const correlation: Record<string, unknown> = {
    ...identity,
    correlation: {
      type: field ? "value_count" : "event_count",
      rules: [baseName],
      ...(by ? { "group-by": by.split(",").map((s) => s.trim()) } : {}),
      timespan: timeframe,
      condition,
    },
  };
  return { base, baseName, correlation };
}
