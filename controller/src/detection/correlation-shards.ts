import { chainRuleSet, DetectionEngine, type EngineOptions, type Match, type RuleSet, type SigmaEvent } from "@vigil/detection";

interface Source {
  /** The host's newest event time (bounded, see hear). */
  clockMs: number;
  /** Wall-clock time of its last input or clock notice, to move its clock on while it is quiet. */
  seenMs: number;
}

/** The rules of one correlation chain, re-indexed (chainRuleSet), shared by all its groups. */
interface Chain {
  ruleset: RuleSet;
  ids: Map<string, number>;
  /** Event time after a group's last input by which all its windows have closed. */
  spanMs: number;
}

/** One correlation group (chain top + group-by values): its own engine and clock. */
interface Group {
  key: string;
  partition: number;
  chain: Chain;
  engine: DetectionEngine;
  /** The hosts whose inputs reached this group, least recently heard first. */
  sources: Map<string, Source>;
  /** Event time already passed to the engine, so quiet ticks do not repeat work. */
  advancedToMs: number;
  /** Newest event time of its inputs. */
  lastInputMs: number;
}

/** A base-rule match routed to the owner of its correlation group (see engine-protocol RoutedInput). */
export interface ShardInput {
  partition: number;
  /** the group: chain top id and group-by values (routeKey) */
  key: string;
  /** the chain's top correlation */
  anchor: string;
  agentId: string;
  /** the rule that matched and the correlation it is for, by id (indices differ between rule versions) */
  rule: string;
  target: string;
  ev: SigmaEvent;
}

export interface ShardStats {
  /** correlation groups held */
  groups: number;
  /** groups dropped over the cap before their windows closed */
  evictedGroups: number;
  /** inputs naming a rule or correlation the rules in force do not have (a rule change in flight) */
  unknownRules: number;
}

/** Hosts remembered per group; past it the least recently heard is forgotten (its clock no longer holds the group). */
const MAX_SOURCES = 64;

/**
 * The correlation windows of the partitions this process owns (issue #12). Every input of one
 * correlation group (its chain's top correlation and group-by values: a brute force from one IP),
 * from whatever host or replica, is routed to this group's engine, so the windows are exact across
 * hosts. An engine per group, over the chain's few rules only (chainRuleSet), keeps each group on
 * its own clock: the slowest clock of the hosts that fed it, where a host's clock is its newest event
 * time (its inputs, and clock notices with the newest time of everything it sent), bounded to
 * `tolerance` past the wall clock (a host whose clock runs ahead cannot make others late), moving
 * on by wall time while the host is quiet. So no host is late because another host or another
 * group is ahead; a host joining a group with a backlog older than the group's clock by more than
 * the tolerance plus the timespan is late for it (counted in the engine's stats).
 *
 * Bounded: a group is forgotten once its clock is past all its windows, and past `maxGroups` the
 * least recently fed go first (counted). A rule change drops the windows in progress (as a worker
 * restart does); they refill within their timespan, or from the stream in distributed mode.
 */
export class CorrelationShards {
  /** every group, least recently fed first */
  private readonly groups = new Map<string, Group>();
  private readonly byAgent = new Map<string, Set<Group>>();
  private chains = new Map<string, Chain | null>();
  private readonly counts = { evictedGroups: 0, unknownRules: 0 };

  constructor(
    private ruleset: RuleSet,
    private readonly enabled: () => ReadonlyMap<string, boolean>,
    private readonly engineOptions: EngineOptions,
    private readonly toleranceMs: number,
    private readonly quietMs: number,
    private readonly now: () => number = Date.now,
    /** About 3 KiB each when empty (an engine over the chain's rules): 50,000 is some 150 MiB at most. */
    private readonly maxGroups = 50_000,
  ) {}

  get stats(): ShardStats {
    return { groups: this.groups.size, ...this.counts };
  }

  swap(ruleset: RuleSet): void {
    this.ruleset = ruleset;
    this.chains = new Map();
    this.groups.clear();
    this.byAgent.clear();
  }

  setEnabled(ruleId: string, enabled: boolean): void {
    for (const g of this.groups.values()) g.engine.setEnabled(ruleId, enabled);
  }

  /** The partition is no longer ours (its lease went elsewhere): forget its groups. */
  drop(partition: number): void {
    for (const g of [...this.groups.values()]) if (g.partition === partition) this.forget(g);
  }

  accept(input: ShardInput): Match[] {
    const chain = this.chainOf(input.anchor);
    const ruleIdx = chain?.ids.get(input.rule);
    const target = chain?.ids.get(input.target);
    if (!chain || ruleIdx === undefined || target === undefined) {
      this.counts.unknownRules++;
      return [];
    }
    const g = this.groupFor(input, chain);
    const now = this.now();
    this.hear(g, input.agentId, input.ev.timeMs, now);
    g.lastInputMs = Math.max(g.lastInputMs, input.ev.timeMs);
    const clock = this.clockOf(g, now);
    if (clock > g.advancedToMs) g.advancedToMs = clock;
    // A new host's first input may be older than the clock: it is placed at its own time, the clock does not go back.
    return g.engine.accept({ ruleIdx, target, ev: input.ev }, clock);
  }

  /** Hosts' newest event times (matching events or not): the groups they feed move on. */
  clocks(newest: ReadonlyMap<string, number>): Match[] {
    const now = this.now();
    const out: Match[] = [];
    for (const [agentId, t] of newest) {
      for (const g of this.byAgent.get(agentId) ?? []) {
        this.hear(g, agentId, t, now);
        out.push(...this.advance(g, now));
      }
    }
    return out;
  }

  /** Moves every group's clock (quiet hosts move on by wall time); releases what that closes; forgets groups past their windows. */
  advanceQuiet(): Match[] {
    const now = this.now();
    const out: Match[] = [];
    for (const g of [...this.groups.values()]) out.push(...this.advance(g, now));
    return out;
  }

  /** Evaluates everything held, for shutdown. */
  flushAll(): Match[] {
    return [...this.groups.values()].flatMap((g) => g.engine.flush());
  }

  private advance(g: Group, now: number): Match[] {
    const target = this.clockOf(g, now);
    if (target <= g.advancedToMs) return [];
    g.advancedToMs = target;
    const out = g.engine.advanceTo(target);
    // Past every window (and the reorder tolerance) of its last input: nothing more can fire from what it holds.
    if (target > g.lastInputMs + g.chain.spanMs + this.toleranceMs) {
      out.push(...g.engine.flush());
      this.forget(g);
    }
    return out;
  }

  private forget(g: Group): void {
    this.groups.delete(g.key);
    for (const agentId of g.sources.keys()) this.unindex(agentId, g);
  }

  private hear(g: Group, agentId: string, timeMs: number, now: number): void {
    const t = Math.min(timeMs, now + this.toleranceMs);
    const src = g.sources.get(agentId);
    g.sources.delete(agentId); // re-insert: Map order is least recently heard first
    g.sources.set(agentId, { clockMs: Math.max(src?.clockMs ?? -Infinity, t), seenMs: now });
    if (!src) {
      let set = this.byAgent.get(agentId);
      if (!set) this.byAgent.set(agentId, (set = new Set()));
      set.add(g);
    }
    if (g.sources.size > MAX_SOURCES) {
      const oldest = g.sources.keys().next().value!;
      g.sources.delete(oldest);
      this.unindex(oldest, g);
    }
  }

  private unindex(agentId: string, g: Group): void {
    const set = this.byAgent.get(agentId);
    set?.delete(g);
    if (set?.size === 0) this.byAgent.delete(agentId);
  }

  /** The slowest host's clock; a host quiet for quietMs counts its quiet wall time. */
  private clockOf(g: Group, now: number): number {
    let min = Infinity;
    for (const src of g.sources.values()) {
      const quiet = now - src.seenMs;
      const c = quiet >= this.quietMs ? src.clockMs + quiet : src.clockMs;
      if (c < min) min = c;
    }
    return Math.min(min, now + this.toleranceMs);
  }

  private chainOf(anchor: string): Chain | undefined {
    let c = this.chains.get(anchor);
    if (c === undefined) {
      const ruleset = chainRuleSet(this.ruleset, anchor);
      c = ruleset ? { ruleset, ids: new Map(ruleset.rules.map((r, i) => [r.id, i])), spanMs: chainSpan(ruleset) } : null;
      // Bounded by the rule set: only ids that name a correlation there are cached.
      if (c) this.chains.set(anchor, c);
    }
    return c ?? undefined;
  }

  private groupFor(input: ShardInput, chain: Chain): Group {
    let g = this.groups.get(input.key);
    if (g && g.partition === input.partition) {
      this.groups.delete(input.key); // re-insert: least recently fed first
      this.groups.set(input.key, g);
      return g;
    }
    const engine = new DetectionEngine(chain.ruleset, this.engineOptions);
    for (const [id, on] of this.enabled()) engine.setEnabled(id, on);
    g = { key: input.key, partition: input.partition, chain, engine, sources: new Map(), advancedToMs: -Infinity, lastInputMs: -Infinity };
    this.groups.set(input.key, g);
    while (this.groups.size > this.maxGroups) {
      this.forget(this.groups.values().next().value!);
      this.counts.evictedGroups++;
    }
    return g;
  }
}

/** The longest a chain's windows can reach past an input: the sum of its correlations' timespans. */
function chainSpan(ruleset: RuleSet): number {
  return ruleset.compiled.reduce((n, r) => n + (r.correlation?.timespanMs ?? 0), 0);
}
