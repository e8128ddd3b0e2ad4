import type { EventRef } from "../database/entities/alert.entity";

/**
 * Which evidence an alert keeps. A long-running alert (a scan, a brute force hitting for hours)
 * matches without bound, but its row must not grow: it keeps the first matches (how it started)
 * and the newest (what is happening now), with `count` and first/last seen saying how many and
 * over what span. Keeping only the first ones left the newest stored event reachable from neither
 * the alert nor its case.
 */
export const FIRST_EVENT_REFS = 40;
export const NEWEST_EVENT_REFS = 10;
export const MAX_EVENT_REFS = FIRST_EVENT_REFS + NEWEST_EVENT_REFS;
/** Embedded copies of matched events' fields (for playbook parameters and quick reading), split the same way. */
export const FIRST_EVENT_FIELDS = 5;
export const NEWEST_EVENT_FIELDS = 5;
export const MAX_EVENT_FIELDS = FIRST_EVENT_FIELDS + NEWEST_EVENT_FIELDS;

const refKey = (r: EventRef) => `${r.agentId}|${r.seq}`;
const byTime = (a: EventRef, b: EventRef) => a.timeMs - b.timeMs || (a.agentId < b.agentId ? -1 : a.agentId > b.agentId ? 1 : a.seq - b.seq);

/**
 * `kept` plus `incoming` (duplicates dropped), in event-time order, bounded to the first
 * FIRST_EVENT_REFS and the newest NEWEST_EVENT_REFS. A reference dropped once is never among either
 * end again (at least that many earlier and later ones stay), so repeated merges give the same
 * result as bounding the whole history at once.
 */
export function keepEventRefs(kept: readonly EventRef[], incoming: readonly EventRef[]): EventRef[] {
  const seen = new Set(kept.map(refKey));
  const all = [...kept];
  for (const r of incoming) {
    const k = refKey(r);
    if (seen.has(k)) continue;
    seen.add(k);
    all.push(r);
  }
  all.sort(byTime);
  return all.length <= MAX_EVENT_REFS ? all : [...all.slice(0, FIRST_EVENT_REFS), ...all.slice(-NEWEST_EVENT_REFS)];
}

/** Embedded event fields in arrival order: the first few and the newest few. */
export function keepEventFields(kept: readonly Record<string, unknown>[], incoming: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  const all = [...kept, ...incoming];
  return all.length <= MAX_EVENT_FIELDS ? all : [...all.slice(0, FIRST_EVENT_FIELDS), ...all.slice(-NEWEST_EVENT_FIELDS)];
}

/** The newest reference an alert holds (its last matching event, as far as it was stored), or null. */
export function newestEventRef(refs: readonly EventRef[]): EventRef | null {
  let best: EventRef | null = null;
  for (const r of refs) if (!best || byTime(r, best) > 0) best = r;
  return best;
}
