/**
 * DetectionEngine: evaluates a compiled RuleSet against events. Single-event rules answer at
 * once. Early-firing correlations (lower-bound conditions) take their inputs as they arrive and
 * fire the moment they hold; at-window-close correlations (upper bounds, averages, shares) get
 * their inputs through a reorder buffer, in event-time order, and are decided once event time
 * has passed a window's end by the tolerance. Either way the alerts are the same live or replayed.
 */
import type { CompiledRule, RuleSet } from "./compile";
import { Correlator, type CorrFire, type CorrInput } from "./correlator";
import { EarlyCorrelator } from "./early-correlator";
import { EventView } from "./event-view";
import { Prefilter } from "./prefilter";
import { ReorderBuffer } from "./reorder-buffer";
import type { LogSource, Match, SigmaEvent } from "./types";

export interface EngineOptions {
  /**
   * How late (in event time) a correlation input may arrive and still count exactly. Default 60 s.
   * Early-firing correlations do not wait for it; at-window-close ones wait this long past a window's end.
   */
  outOfOrderToleranceMs?: number;
  /** Cap on open groups per correlation rule (least recently used go first). Default 100,000. */
  maxGroupsPerCorrelation?: number;
  /** Cap on correlation inputs held for reordering, and on those each early correlation holds. Default 100,000. */
  maxBufferedEvents?: number;
  /** Contributing events kept per correlation match. Default 50. */
  maxEventsPerMatch?: number;
  /**
   * Called with a rule's index in RuleSet.rules before that rule is tested against an event, so a
   * watchdog can name the rule an event is stuck in (detection time budget, issue #10).
   */
  onRule?: (ruleIndex: number) => void;
}

export interface EngineStats {
  events: number;
  matches: number;
  /** correlation inputs that arrived later than the tolerance (still applied, best effort) */
  lateEvents: number;
  /** of those, inputs too old for an early correlation's retained windows (tolerance + timespan): not placed */
  lateUnplaced: number;
  /** correlation inputs released before their time because the buffer was full */
  forcedReleases: number;
  /** correlation groups dropped because of the per-rule cap */
  evictedGroups: number;
  bufferedEvents: number;
}

interface Route {
  rules: number[];
  prefilter: Prefilter;
}

interface Pending {
  timeMs: number;
  ev: SigmaEvent;
  /** the rules (detections, or a correlation that fired) this input is a match of */
  rules: number[];
  seq: number;
  contributing: SigmaEvent[];
  resolve?: () => SigmaEvent[];
  /** routed inputs (accept): the one correlation this input is for; its other correlations are fed elsewhere */
  only?: number;
}

/** A base-rule match handed to the engine that owns one of its correlations (see correlation-routes.ts). */
export interface RoutedMatch {
  /** index (RuleSet.rules) of the rule that matched */
  ruleIdx: number;
  /** index of the correlation this input is for */
  target: number;
  ev: SigmaEvent;
}

export class DetectionEngine {
  private readonly compiled: CompiledRule[];
  private readonly enabled: boolean[];
  private readonly routes = new Map<string, Route>();
  private readonly early = new Map<number, EarlyCorrelator>();
  private readonly atClose = new Map<number, Correlator>();
  /** per rule: does it feed an at-window-close correlation (so its matches go through the buffer)? */
  private readonly feedsAtClose: boolean[];
  private readonly buffer: ReorderBuffer<Pending>;
  private seq = 0;
  private counts = { events: 0, matches: 0, lateEvents: 0 };
  private readonly onRule?: (ruleIndex: number) => void;

  constructor(ruleset: RuleSet, opts: EngineOptions = {}) {
    this.compiled = ruleset.compiled;
    this.enabled = this.compiled.map((r) => r.info.enabled);
    this.onRule = opts.onRule;
    // Ties in event time go by the input's event sequence, then its rule: a chained hit found late
    // (out of order) still takes the place it has in a replay.
    this.buffer = new ReorderBuffer<Pending>(opts.outOfOrderToleranceMs ?? 60_000, opts.maxBufferedEvents ?? 100_000, (a, b) => a.seq - b.seq || a.rules[0] - b.rules[0]);
    const limits = { maxGroups: opts.maxGroupsPerCorrelation ?? 100_000, maxEventsPerMatch: opts.maxEventsPerMatch ?? 50, maxHeldInputs: opts.maxBufferedEvents ?? 100_000 };
    // Early correlations chained on an early one read its hits' events when they settle: keep its
    // inputs for its timespan plus the longest chain of timespans above it.
    const above = new Map<number, number>();
    const chainAbove = (i: number): number => {
      let v = above.get(i);
      if (v === undefined) {
        v = 0;
        for (const d of this.compiled[i].feeds) if (this.compiled[d].correlation?.firing === "early") v = Math.max(v, this.compiled[d].correlation!.timespanMs + chainAbove(d));
        above.set(i, v);
      }
      return v;
    };
    this.compiled.forEach((r, i) => {
      if (r.correlation?.firing === "early") this.early.set(i, new EarlyCorrelator(r.correlation, limits, r.correlation.timespanMs + chainAbove(i)));
      else if (r.correlation) this.atClose.set(i, new Correlator(r.correlation, limits));
    });
    this.feedsAtClose = this.compiled.map((r) => r.feeds.some((ci) => this.atClose.has(ci)));
  }

  /** Enable or disable a rule by id; a disabled rule neither alerts nor feeds correlations. */
  setEnabled(id: string, enabled: boolean): boolean {
    const i = this.compiled.findIndex((r) => r.info.id === id);
    if (i < 0) return false;
    this.enabled[i] = enabled;
    return true;
  }

  isEnabled(id: string): boolean | undefined {
    const i = this.compiled.findIndex((r) => r.info.id === id);
    return i < 0 ? undefined : this.enabled[i];
  }

  get stats(): EngineStats {
    let evicted = 0;
    let unplaced = 0;
    for (const c of this.atClose.values()) evicted += c.evicted;
    for (const c of this.early.values()) {
      evicted += c.evicted;
      unplaced += c.tooLate;
    }
    return { ...this.counts, lateUnplaced: unplaced, forcedReleases: this.buffer.forced, evictedGroups: evicted, bufferedEvents: this.buffer.size };
  }

  process(ev: SigmaEvent): Match[] {
    const { matches: out, feeding } = this.detect(ev);
    if (feeding.length) {
      if (this.buffer.isLate(ev.timeMs)) this.counts.lateEvents++;
      this.arrive({ timeMs: ev.timeMs, ev, rules: feeding, seq: this.seq++, contributing: [ev] }, out);
    }
    this.release(this.buffer.observe(ev.timeMs), out);
    return out;
  }

  /**
   * Single-event matching only: the matches of rules that alert on their own, and the rules
   * (indices, ascending) whose match feeds a correlation, for a caller that runs correlations
   * elsewhere (cross-host: routed by group-by value to the owner of the group). Holds no state.
   */
  detect(ev: SigmaEvent): { matches: Match[]; feeding: number[] } {
    this.counts.events++;
    const out: Match[] = [];
    const view = new EventView(ev.fields);
    const route = this.routeFor(ev.logsource);
    const hits: number[] = [];
    for (const pos of route.prefilter.candidates(view)) {
      const ri = route.rules[pos];
      if (!this.enabled[ri]) continue;
      const r = this.compiled[ri];
      this.onRule?.(ri);
      if (r.detection!.test(view) && !r.excludes.some((x) => x(view))) hits.push(ri);
    }
    hits.sort((a, b) => a - b);
    const feeding: number[] = [];
    for (const ri of hits) {
      const r = this.compiled[ri];
      if (r.info.generates) out.push(this.match(r, "detection", { timeMs: ev.timeMs, events: [ev] }));
      if (r.feeds.length) feeding.push(ri);
    }
    return { matches: out, feeding };
  }

  /**
   * A match found by another engine's `detect`, for one correlation this engine owns. Only that
   * correlation is fed (the match's other correlations have their own owners); its firings feed
   * chained correlations here as usual. Event time moves to the input's time, or to `clockMs` if
   * given (the owner's clock, bounded against hosts whose clocks run ahead).
   */
  accept(input: RoutedMatch, clockMs: number = input.ev.timeMs): Match[] {
    const out: Match[] = [];
    const { ruleIdx, target, ev } = input;
    const t = this.compiled[target];
    if (!this.enabled[ruleIdx] || !t?.correlation || !this.compiled[ruleIdx]?.feeds.includes(target)) return out;
    if (this.buffer.isLate(ev.timeMs)) this.counts.lateEvents++;
    this.arrive({ timeMs: ev.timeMs, ev, rules: [ruleIdx], seq: this.seq++, contributing: [ev], only: target }, out);
    this.release(this.buffer.observe(clockMs), out);
    return out;
  }

  /**
   * Tell the engine that event time has reached `timeMs` without an event (e.g. a periodic clock
   * tick in live operation), so held correlation inputs and closed windows are evaluated.
   */
  advanceTo(timeMs: number): Match[] {
    const out: Match[] = [];
    this.release(this.buffer.observe(timeMs), out);
    return out;
  }

  /** Evaluate everything still held (end of a replay or shutdown), including open windows. */
  flush(): Match[] {
    const out: Match[] = [];
    this.release(this.buffer.drain(), out);
    // Windows first, then spans: a window's firing may still feed an early correlation.
    for (const [ci, c] of this.atClose) this.emit(ci, c.closeAll(), out);
    for (const [ci, c] of this.early) this.emit(ci, c.closeAll(), out);
    return out;
  }

  /**
   * A correlation input arrives (an event's matches, or a correlation that fired): early
   * correlations take it now; at-window-close ones get it in event-time order through the buffer
   * (at once if its time was already released: late, best effort).
   */
  private arrive(p: Pending, out: Match[]): void {
    this.feed(p, true, out);
    if (p.only !== undefined ? !this.atClose.has(p.only) : !p.rules.some((ri) => this.feedsAtClose[ri])) return;
    if (this.buffer.isLate(p.timeMs)) this.correlate(p, out);
    else this.buffer.push(p);
  }

  private release(items: Pending[], out: Match[]): void {
    for (const p of items) this.correlate(p, out);
    const w = this.buffer.watermark;
    this.closeWindows(w, out);
    // After a flush (drain to +Infinity) early correlations keep their last real watermark.
    if (Number.isFinite(w)) for (const [ci, c] of this.early) this.emit(ci, c.advance(w), out);
  }

  private correlate(p: Pending, out: Match[]): void {
    this.closeWindows(p.timeMs, out);
    this.feed(p, false, out);
  }

  private closeWindows(t: number, out: Match[]): void {
    for (const [ci, c] of this.atClose) this.emit(ci, c.closeUntil(t), out);
  }

  private feed(p: Pending, early: boolean, out: Match[]): void {
    for (const ri of p.rules) {
      const input: CorrInput = { ruleIdx: ri, ev: p.ev, timeMs: p.timeMs, seq: p.seq, contributing: p.contributing, resolve: p.resolve };
      for (const ci of this.compiled[ri].feeds) {
        if (!this.enabled[ci] || (p.only !== undefined && ci !== p.only)) continue;
        const c = early ? this.early.get(ci) : this.atClose.get(ci);
        if (c) this.emit(ci, c.add(input), out);
      }
    }
  }

  private emit(ci: number, fires: CorrFire[], out: Match[]): void {
    const r = this.compiled[ci];
    for (const f of fires) {
      const emit = f.emit ?? "alert";
      if (r.info.generates && emit !== "hit") out.push(this.match(r, "correlation", f));
      // Chained correlations see every hit as an event carrying the group-by values (an update was already seen as a hit).
      if (r.feeds.length && emit !== "update") {
        this.arrive({ timeMs: f.timeMs, ev: { logsource: {}, fields: f.groupBy, timeMs: f.timeMs }, rules: [ci], seq: f.seq ?? this.seq++, contributing: f.events, resolve: f.resolve }, out);
      }
    }
  }

  private match(r: CompiledRule, kind: Match["kind"], f: Partial<CorrFire> & { timeMs: number; events: SigmaEvent[] }): Match {
    this.counts.matches++;
    const { id, title, level, tags } = r.info;
    const m: Match = { rule: { id, title, level, tags }, kind, timeMs: f.timeMs, events: f.events };
    if (kind === "correlation") {
      m.correlationType = r.correlation!.type;
      m.eventCount = f.eventCount;
      m.groupBy = f.groupBy;
      if (f.window) m.window = f.window;
      if (f.dedupWindow) m.dedupWindow = f.dedupWindow;
      if (f.emit === "update") m.update = true;
    }
    return m;
  }

  private routeFor(ls: LogSource): Route {
    const p = ls.product?.toLowerCase();
    const c = ls.category?.toLowerCase();
    const s = ls.service?.toLowerCase();
    const key = `${p ?? ""}|${c ?? ""}|${s ?? ""}`;
    let route = this.routes.get(key);
    if (!route) {
      const rules: number[] = [];
      this.compiled.forEach((r, i) => {
        if (r.detection && logsourceMatches(r.logsource, p, c, s)) rules.push(i);
      });
      route = { rules, prefilter: new Prefilter(rules.map((i) => this.compiled[i].detection!.key)) };
      this.routes.set(key, route);
    }
    return route;
  }
}

/**
 * An event with an empty logsource (e.g. a flat test event) is checked against every rule.
 * Linux `service: auth` covers all authentication events (sshd, sudo, su, login ...), as
 * /var/log/auth.log does; `service: syslog` covers every system-log line (cron, vsftpd,
 * kernel ...), as /var/log/syslog does.
 */
/** Services that name a whole log, and the event category that log holds. */
const UMBRELLA_SERVICES: Record<string, string> = { auth: "authentication", syslog: "syslog" };

function logsourceMatches(rule: LogSource, p?: string, c?: string, s?: string): boolean {
  if (p === undefined && c === undefined && s === undefined) return true;
  if (rule.product !== undefined && rule.product !== p) return false;
  if (rule.category !== undefined && rule.category !== c) return false;
  if (rule.service !== undefined && rule.service !== s && UMBRELLA_SERVICES[rule.service] !== c) return false;
  return true;
}
