/** Public data shapes of the Sigma engine. */

export type Level = "informational" | "low" | "medium" | "high" | "critical";

export interface LogSource {
  product?: string;
  category?: string;
  service?: string;
}

/** One event in Sigma's flat field vocabulary (see docs/sigma-support.md for the mapping). */
export interface SigmaEvent {
  logsource: LogSource;
  fields: Record<string, unknown>;
  /** Event time (when it happened on the host), ms since the epoch. Correlation windows use this. */
  timeMs: number;
}

export interface RuleInfo {
  /** The rule's `id`, or a stable synthetic one (`<source>#<n>`) when the rule has none. */
  id: string;
  name?: string;
  title: string;
  level: Level;
  tags: string[];
  status?: string;
  description?: string;
  logsource: LogSource;
  kind: "detection" | "correlation";
  /** Where the rule came from (file name given to compileRules). */
  source: string;
  /** Initial state; deprecated/unsupported rules start disabled. */
  enabled: boolean;
  /** False when the rule only feeds correlations (Sigma's `generate: false`, the default). */
  generates: boolean;
  correlationType?: CorrelationType;
  /**
   * Correlations only: "early" fires the moment the condition holds over the events in hand;
   * "at_window_close" (upper bounds, averages, shares) waits until the window is complete.
   */
  firing?: "early" | "at_window_close";
}

export type CorrelationType = "event_count" | "value_count" | "temporal" | "temporal_ordered" | "value_sum" | "value_avg" | "value_percentile";

export interface RuleError {
  source: string;
  title?: string;
  id?: string;
  /** 1-based YAML line of the offending key, when known. */
  line?: number;
  /** Short name of the unsupported or malformed feature, e.g. `modifier 'foo'`. */
  feature?: string;
  message: string;
}

export interface MatchedRule {
  id: string;
  title: string;
  level: Level;
  tags: string[];
}

export interface Match {
  rule: MatchedRule;
  kind: "detection" | "correlation";
  correlationType?: CorrelationType;
  /** Event time of the (last) event that made the rule fire. */
  timeMs: number;
  /** The matched event, or for correlations the contributing events (capped, oldest first). */
  events: SigmaEvent[];
  /** For correlations: how many events contributed in total (events[] may be capped). */
  eventCount?: number;
  /** For correlations: the group-by values of the group that fired. */
  groupBy?: Record<string, unknown>;
  /**
   * For correlations: the evaluated window. At window close, the window that closed; for early
   * firings, the sliding window (timespan) ending at the input that made the condition hold.
   */
  window?: { startMs: number; endMs: number };
  /**
   * Early-firing correlations: the fixed span of one timespan, aligned on the epoch, this firing
   * is counted in. A rule fires at most once per group and span; (rule, groupBy, dedupWindow)
   * names the alert.
   */
  dedupWindow?: { startMs: number; endMs: number };
  /**
   * True when this match revises an earlier early firing of the same (rule, groupBy, dedupWindow):
   * late inputs inside the reorder tolerance changed when the condition first held or what it
   * held over. Consumers update that alert; they must not count or act on it as a new one.
   */
  update?: boolean;
}

export function formatRuleError(e: RuleError): string {
  const where = e.line !== undefined ? `${e.source}:${e.line}` : e.source;
  const who = e.title !== undefined || e.id !== undefined ? ` rule '${e.title ?? "?"}'${e.id ? ` (${e.id})` : ""}` : "";
  const what = e.feature ? ` [${e.feature}]` : "";
  return `${where}:${who}${what} ${e.message}`;
}
