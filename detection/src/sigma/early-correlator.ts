/**
 * An early-firing correlation (see CorrelationSpec.firing): inputs are taken as they arrive, in
 * any order, and the rule fires the moment its condition holds, from the inputs in hand.
 *
 * Semantics, defined on the set of inputs so that arrival order cannot change them:
 * - An input "hits" when the condition holds over its sliding window (sliding-heads.ts).
 * - The rule alerts at most once per group and dedup span: the fixed span of one timespan,
 *   aligned on the epoch, that holds the hit's time. The alert describes the earliest hit in
 *   the span.
 * - Every hit is passed on to chained correlations (adding inputs only ever adds hits, so a chain
 *   built on hits is as exact as its parts).
 *
 * Live, an input that arrives late (inside the reorder tolerance) is placed in its window and the
 * hits after it are re-evaluated. Once the watermark (newest event time minus the tolerance)
 * reaches a span's earliest hit, nothing earlier can still arrive and the hit is final: if it
 * differs from what was sent (a late input made the condition hold earlier, or over more
 * inputs), an update is sent for the same alert.
 * A replay in time order sends the final version at once, so live and replay end with the same
 * alerts.
 */
import type { ResolvedCorrelation } from "./compile";
import type { CorrFire, CorrInput, CorrLimits } from "./correlator";
import { asNumber, threshold } from "./correlation-def";
import { ReorderBuffer } from "./reorder-buffer";
import { entryOrder, eventsOf, lowerBoundTime, newHead, upperBound, type Head, type HeadSpec, type SlideEntry } from "./sliding-heads";
import type { SigmaEvent } from "./types";

interface Sent {
  timeMs: number;
  eventCount: number;
  events: SigmaEvent[];
}

interface Span {
  /** the earliest hit so far */
  first: SlideEntry;
  sent: Sent;
  settled: boolean;
}

interface Group {
  groupBy: Record<string, unknown>;
  /** inputs in key order, back to the retention horizon */
  entries: SlideEntry[];
  head: Head;
  /** dedup span index -> the alert sent for it */
  spans: Map<number, Span>;
}

interface Due {
  timeMs: number;
  key: string;
  span: number;
}

/** Inputs kept per group (and scanned when one arrives out of order); at least the threshold. */
const MAX_ENTRIES_PER_GROUP = 4096;

export class EarlyCorrelator {
  private groups = new Map<string, Group>();
  /** spans that alerted, released when the watermark passes their end */
  private settle = new ReorderBuffer<Due>(0, 1_000_000);
  private watermark = -Infinity;
  private inputsSinceSweep = 0;
  /** entries held across all groups */
  private held = 0;
  private readonly positions = new Map<number, number[]>();
  private readonly head: HeadSpec;
  private readonly maxEntries: number;
  evicted = 0;
  /** inputs older than the retained window (later than tolerance + timespan): not placed */
  tooLate = 0;

  /**
   * @param retentionMs how far back from the watermark inputs are kept: the timespan, plus the
   *   timespans of the early correlations chained on this one (they read a hit's events when
   *   they settle, up to their own timespan later).
   */
  constructor(
    private readonly def: ResolvedCorrelation,
    private readonly limits: CorrLimits,
    private readonly retentionMs: number = def.timespanMs,
  ) {
    this.head = { type: def.type, condition: def.condition, timespanMs: def.timespanMs, steps: def.refIdx.length };
    const need = def.type === "value_sum" ? 1 : threshold(def.condition);
    this.maxEntries = Math.max(MAX_ENTRIES_PER_GROUP, need + 1);
  }

  get openGroups(): number {
    return this.groups.size;
  }

  add(input: CorrInput): CorrFire[] {
    const d = this.def;
    const out: CorrFire[] = [];
    // Beyond tolerance + timespan the window this input belongs to is no longer held.
    if (input.timeMs < this.watermark - d.timespanMs) {
      this.tooLate++;
      return out;
    }
    for (const j of this.positionsOf(input.ruleIdx)) {
      const entry = this.entryFor(input, j);
      if (!entry) continue;
      const vals = d.groupFields[j].map((f) => input.ev.fields[f] ?? null);
      const key = JSON.stringify(vals);
      let g = this.groups.get(key);
      if (!g) g = { groupBy: Object.fromEntries(d.groupBy.map((name, i) => [name, vals[i]])), entries: [], head: newHead(this.head), spans: new Map() };
      else this.groups.delete(key); // re-insert: Map order doubles as least-recently-used order
      this.groups.set(key, g);
      this.place(key, g, entry, out);
      this.held++;
      this.trim(g);
      this.bound(g);
    }
    if (++this.inputsSinceSweep >= 1024 || this.groups.size > this.limits.maxGroups) this.sweep();
    return out;
  }

  /** Event time is final up to `watermark`: settle the spans that ended, forget what no window needs. */
  advance(watermark: number): CorrFire[] {
    if (watermark <= this.watermark) return [];
    this.watermark = watermark;
    const out: CorrFire[] = [];
    for (const due of this.settle.observe(watermark)) this.settleSpan(due, out);
    return out;
  }

  /** Settle everything (end of a replay). */
  closeAll(): CorrFire[] {
    const out: CorrFire[] = [];
    for (const due of this.settle.drain()) this.settleSpan(due, out);
    return out;
  }

  /**
   * The positions a referenced rule's match fills. Counting types count an event once even if its
   * rule is listed twice; for temporal types, highest position first (the entries' key order, so
   * one event's entries arrive in order).
   */
  private positionsOf(ruleIdx: number): number[] {
    let p = this.positions.get(ruleIdx);
    if (!p) {
      const d = this.def;
      const all = d.refIdx.flatMap((r, j) => (r === ruleIdx ? [j] : []));
      p = d.type === "temporal" || d.type === "temporal_ordered" ? all.reverse() : all.slice(0, 1);
      this.positions.set(ruleIdx, p);
    }
    return p;
  }

  private entryFor(input: CorrInput, pos: number): SlideEntry | undefined {
    const d = this.def;
    const e: SlideEntry = { t: input.timeMs, seq: input.seq, pos, rule: d.refIdx[pos], evs: input.contributing, resolve: input.resolve, hit: false };
    if (d.type === "value_count") {
      const v = input.ev.fields[d.field!];
      if (v === undefined || v === null) return undefined;
      e.value = JSON.stringify(v);
    } else if (d.type === "value_sum") {
      const n = asNumber(input.ev.fields[d.field!]);
      // Only values that cannot make the sum shrink; a negative one from a hostile host is ignored.
      if (n === undefined || n < 0) return undefined;
      e.num = n;
    }
    return e;
  }

  private place(key: string, g: Group, e: SlideEntry, out: CorrFire[]): void {
    const list = g.entries;
    const last = list[list.length - 1];
    if (!last || entryOrder(last, e) < 0) {
      list.push(e);
      if (g.head.push(e)) this.hit(key, g, e, list.length - 1, out);
    } else {
      // Out of order: place it, then re-run the windows it can change (those ending at or after it).
      const at = upperBound(list, e);
      list.splice(at, 0, e);
      g.head = newHead(this.head);
      for (let i = lowerBoundTime(list, e.t - this.def.timespanMs); i < list.length; i++) {
        const x = list[i];
        if (g.head.push(x) && i >= at && !x.hit) this.hit(key, g, x, i, out);
      }
    }
  }

  private hit(key: string, g: Group, e: SlideEntry, idx: number, out: CorrFire[]): void {
    e.hit = true;
    const d = this.def;
    const span = Math.floor(e.t / d.timespanMs);
    const s = g.spans.get(span);
    // A repeated hit only feeds chained correlations; they read its events (lazily, below) only if they alert.
    const sent = s ? { timeMs: e.t, eventCount: 0, events: [] } : this.describe(g, idx, () => g.head.chain());
    const dedupWindow = { startMs: span * d.timespanMs, endMs: (span + 1) * d.timespanMs };
    const fire: CorrFire = {
      timeMs: e.t,
      groupBy: g.groupBy,
      events: sent.events,
      eventCount: sent.eventCount,
      window: { startMs: e.t - d.timespanMs, endMs: e.t },
      dedupWindow,
      seq: e.seq,
      emit: "hit",
    };
    // Chained correlations read this hit's events when they describe an alert: by then late inputs may have joined.
    fire.resolve = () => this.finalOf(g, e)?.events ?? sent.events;
    if (!s) {
      g.spans.set(span, { first: e, sent, settled: false });
      // Final once the watermark reaches the hit: nothing earlier can still arrive, so no earlier
      // hit can appear and its window is complete.
      this.settle.push({ timeMs: e.t, key, span });
      fire.emit = "alert";
    } else if (!s.settled && entryOrder(e, s.first) < 0) {
      s.first = e;
      this.settle.push({ timeMs: e.t, key, span });
    }
    out.push(fire);
  }

  /** What an alert for the hit at entries[idx] says: its window's inputs (capped), or the chain. */
  private describe(g: Group, idx: number, chain: () => SlideEntry[]): Sent {
    const e = g.entries[idx];
    const max = this.limits.maxEventsPerMatch;
    if (this.def.type === "temporal_ordered") {
      const evs = chain().flatMap(eventsOf).slice(-max);
      return { timeMs: e.t, eventCount: evs.length, events: evs };
    }
    const lo = lowerBoundTime(g.entries, e.t - this.def.timespanMs);
    const events = g.entries
      .slice(Math.max(lo, idx + 1 - max), idx + 1)
      .flatMap(eventsOf)
      .slice(-max);
    // value_count reports how many distinct values it counted (what the condition compared).
    const eventCount = this.def.type === "value_count" ? new Set(g.entries.slice(lo, idx + 1).map((x) => x.value)).size : idx + 1 - lo;
    return { timeMs: e.t, eventCount, events };
  }

  private settleSpan(due: Due, out: CorrFire[]): void {
    const g = this.groups.get(due.key);
    const s = g?.spans.get(due.span);
    if (!g || !s || s.settled) return;
    s.settled = true;
    const final = this.finalOf(g, s.first);
    if (!final || sameSent(final, s.sent)) return; // gone: evicted under the per-group cap
    const d = this.def;
    s.sent = final;
    const span = due.span;
    out.push({
      timeMs: final.timeMs,
      groupBy: g.groupBy,
      events: final.events,
      eventCount: final.eventCount,
      window: { startMs: final.timeMs - d.timespanMs, endMs: final.timeMs },
      dedupWindow: { startMs: span * d.timespanMs, endMs: (span + 1) * d.timespanMs },
      seq: s.first.seq,
      emit: "update",
    });
  }

  /** What the hit at `e` holds over given every input now in hand (its chain rebuilt from its window alone). */
  private finalOf(g: Group, e: SlideEntry): Sent | undefined {
    const idx = g.entries.indexOf(e);
    if (idx < 0) return undefined;
    return this.describe(g, idx, () => {
      const head = newHead(this.head);
      for (let i = lowerBoundTime(g.entries, e.t - this.def.timespanMs); i <= idx; i++) head.push(g.entries[i]);
      return head.chain();
    });
  }

  /** Keep what a window can still need (spans settle as the watermark passes their first hit). */
  private trim(g: Group): void {
    const horizon = this.watermark - this.retentionMs;
    let drop = 0;
    while (drop < g.entries.length && g.entries[drop].t < horizon) drop++;
    const over = g.entries.length - drop - this.maxEntries;
    if (over > 0) this.evicted += over;
    this.cut(g, drop + Math.max(0, over));
  }

  /**
   * Bounded across groups too: the least recently used groups lose their oldest half of inputs
   * (counted) and move to the back. They keep their head (later inputs in order still count) and
   * their spans (what they alerted is not alerted again).
   */
  private bound(current: Group): void {
    for (let tries = 0; tries < 64 && this.held > this.limits.maxHeldInputs; tries++) {
      const [k, lru] = this.groups.entries().next().value as [string, Group];
      const n = Math.ceil(lru.entries.length / 2);
      this.cut(lru, n);
      this.evicted += n;
      if (lru === current) break;
      this.groups.delete(k);
      this.groups.set(k, lru);
    }
  }

  private drop(key: string, g: Group): void {
    this.held -= g.entries.length;
    this.groups.delete(key);
  }

  private cut(g: Group, n: number): void {
    if (n <= 0) return;
    g.entries.splice(0, n);
    this.held -= n;
  }

  /** Drop groups nothing can revive; if still over the cap, drop least recently used ones. */
  private sweep(): void {
    this.inputsSinceSweep = 0;
    const T = this.def.timespanMs;
    const horizon = this.watermark - this.retentionMs;
    for (const [k, g] of this.groups) {
      // Inputs older than watermark - timespan are not placed, so no hit can land in these spans.
      for (const [span, s] of g.spans) if (s.settled && (span + 1) * T < this.watermark - T) g.spans.delete(span);
      const newest = g.entries[g.entries.length - 1];
      if ((!newest || newest.t < horizon) && g.spans.size === 0) this.drop(k, g);
    }
    for (const [k, g] of this.groups) {
      if (this.groups.size <= this.limits.maxGroups) break;
      this.drop(k, g);
      this.evicted++;
    }
  }
}

function sameSent(a: Sent, b: Sent): boolean {
  return a.timeMs === b.timeMs && a.eventCount === b.eventCount && a.events.length === b.events.length && a.events.every((e, i) => e === b.events[i]);
}
