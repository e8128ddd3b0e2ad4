/**
 * State of one at-window-close correlation rule (CorrelationSpec.firing === "at_window_close":
 * upper bounds, averages, shares) over event time. Inputs arrive in event-time order (the
 * engine's reorder buffer sees to that), so the same inputs always give the same firings: a
 * window opens at the group's first input and is evaluated once when event time passes its end.
 * Early-firing correlations are early-correlator.ts.
 */
import { asNumber, conditionHolds } from "./correlation-def";
import type { ResolvedCorrelation } from "./compile";
import type { SigmaEvent } from "./types";

export interface CorrInput {
  /** index of the rule (detection or correlation) that matched */
  ruleIdx: number;
  /** arrival order of the input's event (ties in event time are ordered by it) */
  seq: number;
  /** the event, or for chained correlations a synthetic event carrying the group-by values */
  ev: SigmaEvent;
  timeMs: number;
  contributing: SigmaEvent[];
  /** chained inputs from an early correlation: its contributing events as they stand when read */
  resolve?: () => SigmaEvent[];
}

export interface CorrFire {
  timeMs: number;
  groupBy: Record<string, unknown>;
  events: SigmaEvent[];
  eventCount: number;
  window?: { startMs: number; endMs: number };
  /** early firings: the dedup span (see Match.dedupWindow) */
  dedupWindow?: { startMs: number; endMs: number };
  /** early firings: the sequence of the input that hit, passed on to chained correlations */
  seq?: number;
  /**
   * "alert": a new alert (and an input for chained correlations); "hit": the condition held
   * again inside a span that already alerted (chained correlations only); "update": the final
   * version of an early alert (alert only). At-window-close firings are "alert".
   */
  emit?: "alert" | "hit" | "update";
  /** early firings: `events` as they stand when read (see CorrInput.resolve) */
  resolve?: () => SigmaEvent[];
}

export interface CorrLimits {
  maxGroups: number;
  maxEventsPerMatch: number;
  /** early correlations: inputs held across all groups of one rule */
  maxHeldInputs: number;
}

interface Group {
  groupBy: Record<string, unknown>;
  /** temporal: positions seen; value_count: values seen */
  perPos: boolean[];
  values: Set<string>;
  start: number;
  count: number;
  evs: SigmaEvent[];
  /** value_sum / value_avg: sum and number of numeric values of the field */
  sum: number;
  numeric: number;
  /** value_percentile: occurrences per distinct value of the field */
  byValue: Map<string, { value: unknown; count: number }>;
}

export class Correlator {
  private groups = new Map<string, Group>();
  private closing: { key: string; start: number }[] = [];
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
    const d = this.def;
    const positions = d.refIdx.flatMap((r, j) => (r === input.ruleIdx ? [j] : []));
    // Counting types count an event once even if its rule is listed twice.
    const use = d.type === "temporal" || d.type === "temporal_ordered" ? positions : positions.slice(0, 1);
    for (const j of use) {
      const groupBy: Record<string, unknown> = {};
      const vals = d.groupFields[j].map((f, g) => {
        const v = input.ev.fields[f] ?? null;
        groupBy[d.groupBy[g]] = v;
        return v;
      });
      const key = JSON.stringify(vals);
      let g = this.groups.get(key);
      if (g && input.timeMs >= g.start + d.timespanMs) {
        fires.push(...this.close(key, g));
        g = undefined;
      }
      if (!g) {
        g = { groupBy, perPos: [], values: new Set(), start: input.timeMs, count: 0, evs: [], sum: 0, numeric: 0, byValue: new Map() };
        this.closing.push({ key, start: g.start });
      } else this.groups.delete(key); // re-insert below: Map order doubles as least-recently-used order
      this.groups.set(key, g);
      this.tumble(g, j, input);
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
    const n = d.type === "event_count" ? g.count : d.type === "value_count" ? g.values.size : new Set(d.refIdx.filter((_, j) => g.perPos[j])).size;
    if (!conditionHolds(d.condition, n)) return [];
    return [{ timeMs: endMs, groupBy: g.groupBy, events: g.evs, eventCount: g.count, window }];
  }

  private tumble(g: Group, j: number, input: CorrInput): void {
    g.count++;
    this.keep(g.evs, input.resolve ? input.resolve() : input.contributing);
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
    } else if (d.type === "value_count") {
      const v = input.ev.fields[d.field!];
      // Bounded like the shares above: past this many values an upper bound cannot hold anyway.
      if (v !== undefined && v !== null && g.values.size < 100_000) g.values.add(JSON.stringify(v));
    }
    g.perPos[j] = true;
  }

  private keep(into: SigmaEvent[], evs: SigmaEvent[]): void {
    for (const e of evs) if (into.length < this.limits.maxEventsPerMatch) into.push(e);
  }

  /** If over the cap, drop least recently used groups (their windows are closed by time, not by sweeping). */
  private sweep(): void {
    this.inputsSinceSweep = 0;
    for (const k of this.groups.keys()) {
      if (this.groups.size <= this.limits.maxGroups) break;
      this.groups.delete(k);
      this.evicted++;
    }
  }
}
