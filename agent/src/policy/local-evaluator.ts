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

/**
 * Runs one local policy over the agent's own events with the same pure detection
 * library the controller uses: IOC matching first (its hits become IocMatch fields),
 * then the Sigma rules.
 */
export class LocalEvaluator {
  readonly summary: CompiledPolicy;
  private readonly engine: DetectionEngine;
  private readonly index: IocIndex;
  /** Sigma rule id -> actions (looked up by the policy rule id or the Sigma id). */
  private readonly actionsBySigmaId = new Map<string, { ruleId: string; actions: PolicyAction[] }>();

  constructor(doc: LocalPolicyDocument, private readonly ctx: () => { agentId: string; hostname: string }) {
    const errors: string[] = [];
    const { ruleset, errors: ruleErrors } = compileRules(doc.rules.map((r) => ({ name: r.id, text: r.yaml })));
    errors.push(...ruleErrors.map(formatRuleError));
    // Early-firing correlations (brute force counts) act at once; at-window-close ones are decided
    // on a one-second tick, so hold late inputs only briefly.
    this.engine = new DetectionEngine(ruleset, { outOfOrderToleranceMs: 2000 });
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
    const hits = matchEvent(this.index, event, { nowMs: Date.now() });
    const c = this.ctx();
    const sigma = toSigmaEvent(event, { agentId: c.agentId, hostname: c.hostname, iocMatches: hits.map((h) => ({ type: h.ioc.kind, value: h.ioc.value, source: h.ioc.source })) });
    if (!sigma) return [];
    return this.toHits(this.engine.process(sigma));
  }

  /** Lets correlation windows close without a new event. */
  tick(nowMs: number): RuleHit[] {
    return this.toHits(this.engine.advanceTo(nowMs));
  }

  private toHits(matches: Match[]): RuleHit[] {
    // An update revises a correlation that already fired (and already acted): nothing new to do.
    return matches.filter((m) => !m.update).map((m) => {
      const a = this.actionsBySigmaId.get(m.rule.id);
      return { ruleId: a?.ruleId ?? m.rule.id, title: m.rule.title, actions: a?.actions ?? [] };
    });
  }
}
