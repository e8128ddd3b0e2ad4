/**
 * State of one correlation rule over event time. Inputs arrive in event-time order (the engine's
 * reorder buffer sees to that), so the same inputs always give the same firings.
 *
 * - Monotone conditions (only gt/gte): sliding window; fires as soon as the condition holds over
 *   inputs no more than `timespan` apart, then the group starts afresh (once per group per window).
 * - Conditions with an upper bound (lt/lte/eq/neq): a window opens at the group's first input and
 *   is evaluated once when event time passes its end.
 */
import { conditionHolds, threshold } from "./correlation-def";
import type { ResolvedCorrelation } from "./compile";
import type { SigmaEvent } from "./types";

export interface CorrInput {
  /** index of the rule (detection or correlation) that matched */
  ruleIdx: number;
  /** the event, or for chained correlations a synthetic event carrying the group-by values */
  ev: SigmaEvent;
  timeMs: number;
  contributing: SigmaEvent[];
}

export interface CorrFire {
  timeMs: number;
  groupBy: Record<string, unknown>;
  events: SigmaEvent[];
  eventCount: number;
  window?: { startMs: number; endMs: number };
}

export interface CorrLimits {
  maxGroups: number;
  maxEventsPerMatch: number;
}

interface Entry {
  t: number;
  evs: SigmaEvent[];
}

interface Group {
  groupBy: Record<string, unknown>;
  maxT: number;
  /** event_count: inputs; temporal: last input per position; value_count: last input per value */
  entries: Entry[];
  perPos: (Entry | undefined)[];
  values: Map<string, Entry>;
  /** temporal_ordered: best chain completed up to step j (latest start wins) */
  chain: ({ start: number; end: number; evs: SigmaEvent[] } | undefined)[];
  /** tumbling windows (non-monotone conditions) */
  start: number;
  count: number;
  evs: SigmaEvent[];
  /** value_sum / value_avg: sum and number of numeric values of the field */
  sum: number;
  numeric: number;
  /** value_percentile: occurrences per distinct value of the field */
  byValue: Map<string, { value: unknown; count: number }>;
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export class Correlator {
  private groups = new Map<string, Group>();
  private closing: { key: string; start: number }[] = [];
  private clock = -Infinity;
  private inputsSinceSweep = 0;
  evicted = 0;

  constructor(
    private readonly def: ResolvedCorrelation,
    private readonly limits: CorrLimits,
  ) {}

  get openGroups(): number {
    return this.groups.size;
  }

  add(input: CorrInput): CorrFire[] {
    const fires: CorrFire[] = [];
    this.clock = Math.max(this.clock, input.timeMs);
    const d = this.def;
    const positions = d.refIdx.flatMap((r, j) => (r === input.ruleIdx ? [j] : []));
    // Counting types count an event once even if its rule is listed twice.
    const use = d.type === "temporal" || d.type === "temporal_ordered" ? positions.sort((a, b) => b - a) : positions.slice(0, 1);
    for (const j of use) {
      const groupBy: Record<string, unknown> = {};
      const vals = d.groupFields[j].map((f, g) => {
        const v = input.ev.fields[f] ?? null;
        groupBy[d.groupBy[g]] = v;
        return v;
      });
      const key = JSON.stringify(vals);
      let g = this.groups.get(key);
      if (g && !d.monotone && input.timeMs >= g.start + d.timespanMs) {
        fires.push(...this.close(key, g));
        g = undefined;
      }
      if (!g) {
        g = { groupBy, maxT: input.timeMs, entries: [], perPos: [], values: new Map(), chain: [], start: input.timeMs, count: 0, evs: [], sum: 0, numeric: 0, byValue: new Map() };
        if (!d.monotone) this.closing.push({ key, start: g.start });
      } else this.groups.delete(key); // re-insert below: Map order doubles as least-recently-used order
      this.groups.set(key, g);
      g.maxT = Math.max(g.maxT, input.timeMs);
      const fire = d.monotone ? this.slide(g, j, input) : this.tumble(g, j, input);
      if (fire) {
        this.groups.delete(key);
        fires.push(fire);
      }
    }
    if (++this.inputsSinceSweep >= 1024 || this.groups.size > this.limits.maxGroups) this.sweep();
    return fires;
  }

  /** Close (and evaluate) the windows that end at or before event time `t`. */
  closeUntil(t: number): CorrFire[] {
    const fires: CorrFire[] = [];
    while (this.closing.length && this.closing[0].start + this.def.timespanMs <= t) {
      const { key, start } = this.closing.shift()!;
      const g = this.groups.get(key);
      if (g && g.start === start) fires.push(...this.close(key, g));
    }
    return fires;
  }

  /** Evaluate every open window now (end of a replay). */
  closeAll(): CorrFire[] {
    return this.closeUntil(Infinity);
  }

  private close(key: string, g: Group): CorrFire[] {
    this.groups.delete(key);
    const d = this.def;
    const endMs = g.start + d.timespanMs;
    const window = { startMs: g.start, endMs };
    if (d.type === "value_sum" || d.type === "value_avg") {
      if (g.numeric === 0) return [];
      const v = d.type === "value_sum" ? g.sum : g.sum / g.numeric;
      return conditionHolds(d.condition, v) ? [{ timeMs: endMs, groupBy: g.groupBy, events: g.evs, eventCount: g.count, window }] : [];
    }
    if (d.type === "value_percentile") {
      // The share (in percent) each value has among all of the window's values: "lte: 1" finds the rare ones.
      const total = [...g.byValue.values()].reduce((n, x) => n + x.count, 0);
      const fires: CorrFire[] = [];
      for (const x of g.byValue.values()) {
        if (!conditionHolds(d.condition, (100 * x.count) / total)) continue;
        fires.push({ timeMs: endMs, groupBy: { ...g.groupBy, [d.field!]: x.value }, events: g.evs.filter((e) => e.fields[d.field!] === x.value), eventCount: x.count, window });
      }
      return fires;
    }
    const n = d.type === "event_count" ? g.count : d.type === "value_count" ? g.values.size : g.perPos.filter(Boolean).length;
    if (!conditionHolds(d.condition, n)) return [];
    return [{ timeMs: endMs, groupBy: g.groupBy, events: g.evs, eventCount: g.count, window }];
  }

  private tumble(g: Group, j: number, input: CorrInput): undefined {
    g.count++;
    this.keep(g.evs, input.contributing);
    const d = this.def;
    if (d.type === "value_sum" || d.type === "value_avg") {
      const n = asNumber(input.ev.fields[d.field!]);
      if (n !== undefined) {
        g.sum += n;
        g.numeric++;
      }
    } else if (d.type === "value_percentile") {
      const v = input.ev.fields[d.field!];
      if (v !== undefined && v !== null) {
        const k = JSON.stringify(v);
        const x = g.byValue.get(k);
        if (x) x.count++;
        // Bounded: past this many distinct values a window is too diverse to tell rare from common.
        else if (g.byValue.size < 10_000) g.byValue.set(k, { value: v, count: 1 });
      }
    }
    if (this.def.type === "value_count") {
      const v = input.ev.fields[this.def.field!];
      if (v !== undefined && v !== null) g.values.set(JSON.stringify(v), { t: input.timeMs, evs: [] });
    }
    g.perPos[j] = { t: input.timeMs, evs: [] };
    return undefined;
  }

  private slide(g: Group, j: number, input: CorrInput): CorrFire | undefined {
    const d = this.def;
    const t = input.timeMs;
    const from = g.maxT - d.timespanMs;
    const need = threshold(d.condition);
    const done = (evs: SigmaEvent[], count: number): CorrFire => ({ timeMs: g.maxT, groupBy: g.groupBy, events: evs.slice(-this.limits.maxEventsPerMatch), eventCount: count });
    switch (d.type) {
      case "event_count": {
        g.entries = g.entries.filter((e) => e.t >= from);
        insertSorted(g.entries, { t, evs: input.contributing });
        if (g.entries.length > need) g.entries.shift();
        return g.entries.length >= need ? done(g.entries.flatMap((e) => e.evs), g.entries.length) : undefined;
      }
      case "value_count": {
        const v = input.ev.fields[d.field!];
        for (const [k, e] of g.values) if (e.t < from) g.values.delete(k);
        if (v === undefined || v === null) return undefined;
        const vk = JSON.stringify(v);
        const prev = g.values.get(vk);
        if (!prev || prev.t <= t) {
          g.values.delete(vk);
          g.values.set(vk, { t, evs: input.contributing });
        }
        if (g.values.size > need) g.values.delete(g.values.keys().next().value as string);
        if (g.values.size < need) return undefined;
        const entries = [...g.values.values()].sort((a, b) => a.t - b.t);
        return done(entries.flatMap((e) => e.evs), entries.length);
      }
      case "temporal": {
        if (!g.perPos[j] || g.perPos[j]!.t <= t) g.perPos[j] = { t, evs: input.contributing };
        const live = g.perPos.filter((e): e is Entry => e !== undefined && e.t >= from).sort((a, b) => a.t - b.t);
        const distinct = new Set(g.perPos.flatMap((e, pos) => (e && e.t >= from ? [d.refIdx[pos]] : []))).size;
        return distinct >= need ? done(live.flatMap((e) => e.evs), live.length) : undefined;
      }
      case "temporal_ordered": {
        const last = d.refIdx.length - 1;
        if (j === 0) {
          if (!g.chain[0] || g.chain[0].start <= t) g.chain[0] = { start: t, end: t, evs: input.contributing };
        } else {
          const prev = g.chain[j - 1];
          if (prev && prev.start >= t - d.timespanMs && prev.end <= t) {
            const cur = g.chain[j];
            if (!cur || cur.start < prev.start) g.chain[j] = { start: prev.start, end: t, evs: [...prev.evs, ...input.contributing].slice(-this.limits.maxEventsPerMatch) };
          }
        }
        const full = g.chain[last];
        return full && full.end === t && j === last ? done(full.evs, full.evs.length) : undefined;
      }
    }
  }

  private keep(into: SigmaEvent[], evs: SigmaEvent[]): void {
    for (const e of evs) if (into.length < this.limits.maxEventsPerMatch) into.push(e);
  }

  /** Drop groups whose window has passed; if still over the cap, drop least recently used ones. */
  private sweep(): void {
    this.inputsSinceSweep = 0;
    if (this.def.monotone) {
      const horizon = this.clock - this.def.timespanMs;
      for (const [k, g] of this.groups) if (g.maxT < horizon) this.groups.delete(k);
    }
    for (const k of this.groups.keys()) {
      if (this.groups.size <= this.limits.maxGroups) break;
      this.groups.delete(k);
      this.evicted++;
    }
  }
}

function insertSorted(list: Entry[], e: Entry): void {
  let i = list.length;
  while (i > 0 && list[i - 1].t > e.t) i--;
  list.splice(i, 0, e);
}
