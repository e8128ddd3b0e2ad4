import { entityKey, type EntityRef } from "../scoring/entity";

/** The same rule on the same entity within the window updates one alert instead of opening another. */

export interface DedupConfig {
  /** A match this close (event time) to an open alert's first/last seen joins it. */
  windowMs: number;
  /** An alert never spans more than this, so a never-ending stream still yields periodic alerts. */
  maxSpanMs: number;
}

export const DEFAULT_DEDUP_CONFIG: DedupConfig = { windowMs: 10 * 60 * 1000, maxSpanMs: 24 * 60 * 60 * 1000 };

export interface DedupState {
  dedupKey: string;
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
  /** Resolved alerts are closed: a new match opens a new alert. */
  state: "new" | "acknowledged" | "resolved";
}

export interface RuleMatchRef {
  ruleId: string;
  entity: EntityRef;
}

export function dedupKey(ruleId: string, entity: EntityRef): string {
  return `${ruleId}|${entityKey(entity)}`;
}

/**
 * Whether a match at `nowMs` joins `existing`. Pass the match's event time as `nowMs` so a
 * replayed backlog dedups exactly as it would have live; a late match earlier than the alert's
 * first sighting still joins when within the window.
 */
export function shouldMerge(existing: DedupState, match: RuleMatchRef, nowMs: number, cfg: DedupConfig = DEFAULT_DEDUP_CONFIG): boolean {
  if (existing.state === "resolved") return false;
  if (existing.dedupKey !== dedupKey(match.ruleId, match.entity)) return false;
  if (nowMs < existing.firstSeenMs - cfg.windowMs || nowMs > existing.lastSeenMs + cfg.windowMs) return false;
  const span = Math.max(existing.lastSeenMs, nowMs) - Math.min(existing.firstSeenMs, nowMs);
  return span <= cfg.maxSpanMs;
}

/** The alert after absorbing one more match at `atMs`. */
export function mergeMatch<T extends DedupState>(existing: T, atMs: number): T {
  return {
    ...existing,
    count: existing.count + 1,
    firstSeenMs: Math.min(existing.firstSeenMs, atMs),
    lastSeenMs: Math.max(existing.lastSeenMs, atMs),
  };
}
