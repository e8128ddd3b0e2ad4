/**
 * DetectionEngine: evaluates a compiled RuleSet against events. Single-event rules answer at
 * once; matches that feed correlations go through a reorder buffer so correlation windows run
 * on event time and give the same alerts live or replayed.
 */
import type { CompiledRule, RuleSet } from "./compile";
import { Correlator, type CorrFire, type CorrInput } from "./correlator";
import { EventView } from "./event-view";
import { Prefilter } from "./prefilter";
import { ReorderBuffer } from "./reorder-buffer";
import type { LogSource, Match, SigmaEvent } from "./types";

export interface EngineOptions {
  /** How late (in event time) a correlation input may arrive and still count exactly. Default 60 s. */
  outOfOrderToleranceMs?: number;
  /** Cap on open groups per correlation rule (least recently used go first). Default 100,000. */
  maxGroupsPerCorrelation?: number;
  /** Cap on correlation inputs held for reordering. Default 100,000. */
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
  rules: number[];
}

export class DetectionEngine {
  private readonly compiled: CompiledRule[];
  private readonly enabled: boolean[];
  private readonly routes = new Map<string, Route>();
  private readonly correlators = new Map<number, Correlator>();
  private readonly buffer: ReorderBuffer<Pending>;
  private counts = { events: 0, matches: 0, lateEvents: 0 };
  private readonly onRule?: (ruleIndex: number) => void;

  constructor(ruleset: RuleSet, opts: EngineOptions = {}) {
    this.compiled = ruleset.compiled;
    this.enabled = this.compiled.map((r) => r.info.enabled);
    this.onRule = opts.onRule;
    this.buffer = new ReorderBuffer(opts.outOfOrderToleranceMs ?? 60_000, opts.maxBufferedEvents ?? 100_000);
    const limits = { maxGroups: opts.maxGroupsPerCorrelation ?? 100_000, maxEventsPerMatch: opts.maxEventsPerMatch ?? 50 };
    this.compiled.forEach((r, i) => {
      if (r.correlation) this.correlators.set(i, new Correlator(r.correlation, limits));
    });
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
    for (const c of this.correlators.values()) evicted += c.evicted;
    return { ...this.counts, forcedReleases: this.buffer.forced, evictedGroups: evicted, bufferedEvents: this.buffer.size };
  }

  process(ev: SigmaEvent): Match[] {
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
    if (feeding.length) {
      const p = { timeMs: ev.timeMs, ev, rules: feeding };
      if (this.buffer.isLate(ev.timeMs)) {
        this.counts.lateEvents++;
        this.correlate(p, out);
      } else this.buffer.push(p);
    }
    this.release(this.buffer.observe(ev.timeMs), out);
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
    for (const [ci, c] of this.correlators) this.emit(ci, c.closeAll(), out);
    return out;
  }

  private release(items: Pending[], out: Match[]): void {
    for (const p of items) this.correlate(p, out);
    this.closeWindows(this.buffer.watermark, out);
  }

  private correlate(p: Pending, out: Match[]): void {
    this.closeWindows(p.timeMs, out);
    for (const ri of p.rules) this.feed({ ruleIdx: ri, ev: p.ev, timeMs: p.timeMs, contributing: [p.ev] }, out);
  }

  private closeWindows(t: number, out: Match[]): void {
    for (const [ci, c] of this.correlators) if (!this.compiled[ci].correlation!.monotone) this.emit(ci, c.closeUntil(t), out);
  }

  private feed(input: CorrInput, out: Match[]): void {
    for (const ci of this.compiled[input.ruleIdx].feeds) {
      if (!this.enabled[ci]) continue;
      this.emit(ci, this.correlators.get(ci)!.add(input), out);
    }
  }

  private emit(ci: number, fires: CorrFire[], out: Match[]): void {
    const r = this.compiled[ci];
    for (const f of fires) {
      if (r.info.generates) out.push(this.match(r, "correlation", f));
      // Chained correlations see this firing as an event carrying the group-by values.
      if (r.feeds.length) this.feed({ ruleIdx: ci, ev: { logsource: {}, fields: f.groupBy, timeMs: f.timeMs }, timeMs: f.timeMs, contributing: f.events }, out);
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
