import type { BudgetExceeded } from "./engine-host";
import type { PipelineMatch } from "./event-meta";

export const BUDGET_RULE_ID = "vigil-detection-budget-exceeded";

/**
 * "Detection budget exceeded" as a rule match, so it goes through the alert service like any
 * other (suppressions, dedup, scoring, cases). The entity is the host whose event was too costly;
 * the event's own fields are left out (they are what an attacker wrote).
 */
export function budgetMatch(e: BudgetExceeded & { agentId: string }, hostname: string, tags: string[], budgetMs: number, nowMs: number): PipelineMatch {
  const rule = e.ruleId ? `rule '${e.ruleTitle ?? e.ruleId}' (${e.ruleId})` : "an unknown rule";
  return {
    agentId: e.agentId,
    hostname,
    agentTags: tags,
    match: {
      rule: {
        id: BUDGET_RULE_ID,
        title: `Detection budget exceeded by ${rule}`,
        level: "medium",
        // Impair Defenses: an event crafted to be costly to detect.
        tags: ["attack.defense-evasion", "attack.t1562"],
      },
      kind: "detection",
      timeMs: nowMs,
      events: [
        {
          logsource: { product: "vigil", service: "detection" },
          timeMs: nowMs,
          fields: {
            AgentId: e.agentId,
            Hostname: hostname,
            RuleId: e.ruleId ?? "",
            RuleTitle: e.ruleTitle ?? "",
            ElapsedMs: e.ms,
            BudgetMs: budgetMs,
            Outcome: e.restarted ? "skipped (stuck; detection worker restarted)" : e.skipped ? "skipped" : "finished late",
          },
        },
      ],
    },
  };
}
