/**
 * Streaming evaluation of an early-firing correlation's condition over a sliding window.
 *
 * Inputs are pushed in key order (event time, then arrival sequence, then the rule's position
 * in the correlation, highest first). `push` answers whether the condition holds over the
 * window of the pushed input: the inputs of its group whose time is at least `time - timespan`
 * and whose key is not after its own. That answer depends only on the set of inputs, never on
 * when they arrived, which is what lets live and replay agree; each head keeps only what a later
 * input's window can still need.
 */
import { conditionHolds, threshold, type CountCondition } from "./correlation-def";
import type { CorrelationType, SigmaEvent } from "./types";

export interface SlideEntry {
  t: number;
  seq: number;
  /** position of the referenced rule in the correlation */
  pos: number;
  /** index of the referenced rule (two positions may name the same rule) */
  rule: number;
  /** value_count: the counted value (JSON) */
  value?: string;
  /** value_sum: the summed value */
  num?: number;
  evs: SigmaEvent[];
  /**
   * Chained inputs: the parent's contributing events as they stand now (late inputs of the
   * parent may have joined its window since), so an alert built later describes the final set.
   */
  resolve?: () => SigmaEvent[];
  /** the condition held over this entry's window (set once, never cleared) */
  hit: boolean;
}

/** Key order of entries: event time, arrival, then higher positions first (one event never chains with itself). */
export function entryOrder(a: SlideEntry, b: SlideEntry): number {
  return a.t - b.t || a.seq - b.seq || b.pos - a.pos;
}

export function eventsOf(e: SlideEntry): SigmaEvent[] {
  return e.resolve ? e.resolve() : e.evs;
}

export interface Head {
  push(e: SlideEntry): boolean;
  /** temporal_ordered: the steps of the chain that completed at the last push that held */
  chain(): SlideEntry[];
}

export interface HeadSpec {
  type: CorrelationType;
  condition: CountCondition;
  timespanMs: number;
  /** temporal_ordered: number of steps */
  steps: number;
}

export function newHead(s: HeadSpec): Head {
  switch (s.type) {
    case "event_count":
      return new CountHead(threshold(s.condition), s.timespanMs);
    case "value_count":
      return new DistinctHead(threshold(s.condition), s.timespanMs, (e) => e.value);
    case "temporal":
      return new DistinctHead(threshold(s.condition), s.timespanMs, (e) => String(e.rule));
    case "value_sum":
      return new SumHead(s.condition, s.timespanMs);
    case "temporal_ordered":
      return new OrderedHead(s.steps, s.timespanMs);
    default:
      throw new Error(`${s.type} cannot fire early`);
  }
}

/** event_count: the need-th latest input is inside the window. */
class CountHead implements Head {
  private times: number[] = [];
  constructor(
    private readonly need: number,
    private readonly span: number,
  ) {}
  push(e: SlideEntry): boolean {
    this.times.push(e.t);
    if (this.times.length > this.need) this.times.shift();
    return this.times.length >= this.need && this.times[0] >= e.t - this.span;
  }
  chain(): SlideEntry[] {
    return [];
  }
}

/** value_count and temporal: at least `need` distinct keys inside the window (only the latest `need` can matter later). */
class DistinctHead implements Head {
  /** key -> latest time, least recent first */
  private latest = new Map<string, number>();
  constructor(
    private readonly need: number,
    private readonly span: number,
    private readonly keyOf: (e: SlideEntry) => string | undefined,
  ) {}
  push(e: SlideEntry): boolean {
    const k = this.keyOf(e);
    if (k === undefined) return false;
    this.latest.delete(k);
    this.latest.set(k, e.t);
    for (const [key, t] of this.latest) {
      if (t >= e.t - this.span && this.latest.size <= this.need) break;
      this.latest.delete(key);
    }
    return this.latest.size >= this.need;
  }
  chain(): SlideEntry[] {
    return [];
  }
}

/** value_sum over non-negative values: the window's sum meets the condition. */
class SumHead implements Head {
  private win: { t: number; v: number }[] = [];
  private sum = 0;
  private fractional = 0;
  constructor(
    private readonly cond: CountCondition,
    private readonly span: number,
  ) {}
  push(e: SlideEntry): boolean {
    if (e.num === undefined) return false;
    this.win.push({ t: e.t, v: e.num });
    this.sum += e.num;
    if (!Number.isInteger(e.num)) this.fractional++;
    let dropped = false;
    while (this.win[0].t < e.t - this.span) {
      const x = this.win.shift()!;
      if (!Number.isInteger(x.v)) this.fractional--;
      this.sum -= x.v;
      dropped = true;
    }
    // Integers add and subtract exactly; with fractions, sum the window afresh so the answer never
    // depends on what was added and removed before (live and replay must agree to the last bit).
    if (dropped && this.fractional > 0) this.sum = this.win.reduce((a, x) => a + x.v, 0);
    return conditionHolds(this.cond, this.sum);
  }
  chain(): SlideEntry[] {
    return [];
  }
}

/** temporal_ordered: per step, the chain through that step with the latest start. */
class OrderedHead implements Head {
  private best: ({ start: number; steps: SlideEntry[] } | undefined)[] = [];
  private last: SlideEntry[] = [];
  constructor(
    private readonly steps: number,
    private readonly span: number,
  ) {}
  push(e: SlideEntry): boolean {
    const j = e.pos;
    let chain: { start: number; steps: SlideEntry[] } | undefined;
    if (j === 0) chain = { start: e.t, steps: [e] };
    else {
      const prev = this.best[j - 1];
      if (prev && prev.start >= e.t - this.span) chain = { start: prev.start, steps: [...prev.steps, e] };
    }
    if (!chain) return false;
    const cur = this.best[j];
    if (!cur || cur.start < chain.start) this.best[j] = chain;
    if (j !== this.steps - 1) return false;
    this.last = chain.steps;
    return true;
  }
  chain(): SlideEntry[] {
    return this.last;
  }
}

/** First index whose entry's time is at least t. */
export function lowerBoundTime(list: SlideEntry[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index at which e goes to keep key order. */
export function upperBound(list: SlideEntry[], e: SlideEntry): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (entryOrder(list[mid], e) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
