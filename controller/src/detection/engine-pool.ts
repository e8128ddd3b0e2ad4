import { DetectionEngine, type EngineOptions, type Match, type RuleSet, type SigmaEvent } from "@vigil/detection";

interface AgentEngine {
  engine: DetectionEngine;
  /** Newest event time this agent has reported. */
  eventTimeMs: number;
  /** Wall-clock time of its last event, to move its event clock on while it is quiet. */
  lastArrivalMs: number;
  /** Event time already passed to advanceTo, so quiet ticks do not repeat work. */
  advancedToMs: number;
}

/**
 * One DetectionEngine per agent (hosted in the detection worker, see engine-worker.ts): each agent's correlation windows and reorder buffer follow that
 * agent's own event time, so one agent replaying yesterday's backlog is not "late" against
 * another agent's clock, and a host with a skewed clock does not disturb the others.
 *
 * A rule change swaps in a new RuleSet: engines are rebuilt lazily and the old engines' held
 * correlation state (partial windows) is dropped. That loss is accepted: rule changes are rare and
 * a window in progress refills within its timespan.
 */
export class EnginePool {
  private readonly engines = new Map<string, AgentEngine>();

  constructor(
    private ruleset: RuleSet,
    private readonly enabled: () => ReadonlyMap<string, boolean>,
    private readonly engineOptions: EngineOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.engines.size;
  }

  swap(ruleset: RuleSet): void {
    this.ruleset = ruleset;
    this.engines.clear();
  }

  setEnabled(ruleId: string, enabled: boolean): void {
    for (const a of this.engines.values()) a.engine.setEnabled(ruleId, enabled);
  }

  process(agentId: string, ev: SigmaEvent): Match[] {
    const a = this.engineFor(agentId);
    if (ev.timeMs > a.eventTimeMs) a.eventTimeMs = ev.timeMs;
    a.lastArrivalMs = this.now();
    a.advancedToMs = a.eventTimeMs;
    return a.engine.process(ev);
  }

  /**
   * For agents quiet for at least `quietMs`: their event clock is their last event time plus the
   * wall time since it arrived. Advancing to it releases held correlation inputs and closes
   * windows, so a brute force whose last attempt was the host's last event still alerts.
   */
  advanceQuiet(quietMs: number): { agentId: string; matches: Match[] }[] {
    const now = this.now();
    const out: { agentId: string; matches: Match[] }[] = [];
    for (const [agentId, a] of this.engines) {
      const quiet = now - a.lastArrivalMs;
      if (quiet < quietMs || a.eventTimeMs === -Infinity) continue;
      const target = a.eventTimeMs + quiet;
      if (target <= a.advancedToMs) continue;
      a.advancedToMs = target;
      const matches = a.engine.advanceTo(target);
      if (matches.length) out.push({ agentId, matches });
    }
    return out;
  }

  /** Evaluates everything held, for shutdown. */
  flushAll(): { agentId: string; matches: Match[] }[] {
    const out: { agentId: string; matches: Match[] }[] = [];
    for (const [agentId, a] of this.engines) {
      const matches = a.engine.flush();
      if (matches.length) out.push({ agentId, matches });
    }
    return out;
  }

  private engineFor(agentId: string): AgentEngine {
    let a = this.engines.get(agentId);
    if (!a) {
      const engine = new DetectionEngine(this.ruleset, this.engineOptions);
      for (const [id, on] of this.enabled()) engine.setEnabled(id, on);
      a = { engine, eventTimeMs: -Infinity, lastArrivalMs: this.now(), advancedToMs: -Infinity };
      this.engines.set(agentId, a);
    }
    return a;
  }
}
