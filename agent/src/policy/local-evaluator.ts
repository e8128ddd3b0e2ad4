import { DetectionEngine, type Ioc, type IocIndex, type Match, buildIocIndex, compileRules, formatRuleError, matchEvent, normalizeValue, toSigmaEvent } from "@vigil/detection";
import type { Event } from "@vigil/proto";
import type { LocalPolicyDocument, PolicyAction } from "./policy-document";

/** A rule of the local policy that fired, with what the policy says to do about it. */
export interface RuleHit {
  ruleId: string;
  title: string;
  actions: PolicyAction[];
}

export interface CompiledPolicy {
  version: number;
  rules: number;
  iocs: number;
  /** Rules or IOCs left out (the rest of the policy still applies). */
  errors: string[];
}

/** An event whose local evaluation took longer than the budget, and the rule that took longest. */
export interface SlowEvaluation {
  /** CPU time the evaluation used, in ms (see LocalEvaluator on why CPU). */
  ms: number;
  ruleId?: string;
  title?: string;
  /** Abandoned at a rule boundary past the budget (its remaining rules were not tested). */
  skipped: boolean;
}

/** Thrown from the engine's onRule probe to abandon an event that is over the budget. */
const OVER_BUDGET = new Error("local policy budget exceeded");

/** Default per-event budget for local evaluation (VIGIL_POLICY_EVENT_BUDGET_MS overrides). */
export const DEFAULT_EVENT_BUDGET_MS = 100;

/**
 * Runs one local policy over the agent's own events with the same pure detection
 * library the controller uses: IOC matching first (its hits become IocMatch fields),
 * then the Sigma rules.
 *
 * Time per event: every matcher is linear in the event (RE2 for `|re`, a glob matcher for
 * wildcards), so no value a local user writes can stall the agent; each event is still timed
 * against a budget: past it the event is abandoned at the next rule boundary (the engine has
 * applied nothing of it yet), counted and reported with the slowest rule. The budget is CPU
 * time, not wall time: on a host too loaded to schedule the agent, an ordinary event's wall
 * time grows while the agent waits for a core, and charging that would skip its rules (and
 * their responses) exactly when something is hogging the machine. The wall clock is read at
 * every rule boundary (cheap); the process CPU clock (a syscall) only once the wall clock says
 * the budget may be spent, and once per event to start it. Matching stays
 * on the agent's main thread, deliberately: a worker_threads isolate with the detection library
 * and a copy of the policy costs about 26 MB RSS (measured), a third of the agent's 80 MB
 * footprint target, and with linear matching the only thing it could add, preempting a runaway
 * event, has nothing left to preempt. Local rules come only from the signed controller policy.
 */
export class LocalEvaluator {
  readonly summary: CompiledPolicy;
  private readonly engine: DetectionEngine;
  private readonly index: IocIndex;
  /** Sigma rule id -> actions (looked up by the policy rule id or the Sigma id). */
  private readonly actionsBySigmaId = new Map<string, { ruleId: string; actions: PolicyAction[] }>();
  private readonly ruleInfo: { id: string; title: string }[];
  /** Events evaluated, and those over the budget. */
  readonly counts = { events: 0, overBudget: 0 };
  // Which rule an event spent longest in, fed by the engine's onRule probe.
  private current = -1;
  private currentAt = 0;
  private worst = 0;
  private worstRule = -1;
  private eventStart = 0;
  private eventCpuStart = 0;
  private abortable = false;

  constructor(
    doc: LocalPolicyDocument,
    private readonly ctx: () => { agentId: string; hostname: string },
    private readonly budget: { ms: number; onSlow: (e: SlowEvaluation) => void } = { ms: DEFAULT_EVENT_BUDGET_MS, onSlow: () => undefined },
  ) {
    const errors: string[] = [];
    const { ruleset, errors: ruleErrors } = compileRules(doc.rules.map((r) => ({ name: r.id, text: r.yaml })));
    errors.push(...ruleErrors.map(formatRuleError));
    // Early-firing correlations (brute force counts) act at once; at-window-close ones are decided
    // on a one-second tick, so hold late inputs only briefly.
    this.engine = new DetectionEngine(ruleset, { outOfOrderToleranceMs: 2000, onRule: (ri) => this.enterRule(ri, performance.now()) });
    this.ruleInfo = ruleset.rules.map((r) => ({ id: r.id, title: r.title }));
    for (const info of ruleset.rules) {
      const ruleId = doc.actions.has(info.source) ? info.source : info.id;
      this.actionsBySigmaId.set(info.id, { ruleId, actions: doc.actions.get(ruleId) ?? [] });
    }
    const iocs: Ioc[] = [];
    doc.iocs.forEach((i, n) => {
      const v = normalizeValue(i.kind, i.value);
      if (!v.ok) errors.push(`iocs[${n}]: ${v.error}`);
      else iocs.push({ kind: v.kind, value: v.value, confidence: i.confidence ?? 100, source: i.source ?? "local-policy" });
    });
    this.index = buildIocIndex(iocs);
    this.summary = { version: doc.version, rules: ruleset.rules.length, iocs: iocs.length, errors };
  }

  evaluate(event: Event): RuleHit[] {
    this.counts.events++;
    const t0 = performance.now();
    const cpu0 = cpuMs();
    this.current = -1;
    this.worst = 0;
    this.worstRule = -1;
    const hits = matchEvent(this.index, event, { nowMs: Date.now() });
    const c = this.ctx();
    const sigma = toSigmaEvent(event, { agentId: c.agentId, hostname: c.hostname, iocMatches: hits.map((h) => ({ type: h.ioc.kind, value: h.ioc.value, source: h.ioc.source })) });
    let matches: Match[] = [];
    let skipped = false;
    this.eventStart = t0;
    this.eventCpuStart = cpu0;
    this.abortable = true;
    try {
      if (sigma) matches = this.engine.process(sigma);
    } catch (e) {
      if (e !== OVER_BUDGET) throw e;
      skipped = true;
    } finally {
      this.abortable = false;
    }
    const end = performance.now();
    this.enterRule(-1, end);
    // Charged min(wall, process CPU): both bound this thread's own CPU time (see cpuMs).
    const spent = end - t0 > this.budget.ms ? Math.min(end - t0, cpuMs() - cpu0) : 0;
    if (skipped || spent > this.budget.ms) {
      this.counts.overBudget++;
      const r = this.worstRule >= 0 ? this.ruleInfo[this.worstRule] : undefined;
      this.budget.onSlow({ ms: Math.round(spent), ruleId: r?.id, title: r?.title, skipped });
    }
    return this.toHits(matches);
  }

  /** The time since the previous rule started is charged to that rule. */
  private enterRule(ri: number, t: number): void {
    if (this.current >= 0 && t - this.currentAt > this.worst) {
      this.worst = t - this.currentAt;
      this.worstRule = this.current;
    }
    this.current = ri;
    this.currentAt = t;
    if (ri >= 0 && this.abortable && t - this.eventStart > this.budget.ms && cpuMs() - this.eventCpuStart > this.budget.ms) throw OVER_BUDGET;
  }

  /** Lets correlation windows close without a new event. */
  tick(nowMs: number): RuleHit[] {
    return this.toHits(this.engine.advanceTo(nowMs));
  }

  private toHits(matches: Match[]): RuleHit[] {
    // An update revises a correlation that already fired (and already acted): nothing new to do.
    return matches
      .filter((m) => !m.update)
      .map((m) => {
        const a = this.actionsBySigmaId.get(m.rule.id);
        return { ruleId: a?.ruleId ?? m.rule.id, title: m.rule.title, actions: a?.actions ?? [] };
      });
  }
}

/**
 * CPU time this process has used (user + system), in ms. Process-wide, so helper threads (GC)
 * count too: that can only charge an event more, never less. An event is over the budget only
 * when both its wall time and its CPU time are; the main thread's CPU time cannot exceed its wall time.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
