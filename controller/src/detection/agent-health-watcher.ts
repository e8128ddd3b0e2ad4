import type { PipelineMatch } from "./event-meta";
import { PeriodicPass } from "../agents/periodic-pass";

/** Synthetic rule ids of controller-generated agent health alerts. */
export const TELEMETRY_REFUSED_RULE_ID = "vigil-agent-telemetry-refused";
export const TELEMETRY_STALLED_RULE_ID = "vigil-agent-telemetry-stalled";
export const CLOCK_SKEW_RULE_ID = "vigil-agent-clock-skew";

export interface HealthWatchedAgent {
  id: string;
  hostname: string;
  tags: readonly string[];
  telemetry: string;
  telemetryReason: string | null;
  clockOffsetMs: number | null;
}

export interface AgentHealthAlert {
  ruleId: typeof TELEMETRY_REFUSED_RULE_ID | typeof TELEMETRY_STALLED_RULE_ID | typeof CLOCK_SKEW_RULE_ID;
  agentId: string;
  hostname: string;
  tags: readonly string[];
  reason: string;
  clockOffsetMs: number | null;
  detectedAtMs: number;
}

export interface AgentHealthWatcherDeps {
  agents: () => Promise<HealthWatchedAgent[]>;
  raise: (alert: AgentHealthAlert) => Promise<void>;
  /** |clock offset| above this raises an alert; 0 turns clock alerts off. */
  clockSkewThresholdMs: number;
  /** How often to look (ms). */
  everyMs: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

/**
 * One alert per episode for agents that are connected but blind (batches
 * refused, or a backlog with nothing stored) and for agents whose clock is off
 * past the threshold: the silent-agent watcher's pattern for what silence does
 * not show.
 */
export class AgentHealthWatcher {
  private readonly now: () => number;
  /** `${agentId}|${ruleId}` of the episodes already alerted on; dropped when the condition clears. */
  private readonly alerted = new Set<string>();
  private readonly periodic = new PeriodicPass(
    () => this.pass(),
    (err) => this.deps.onError?.(err),
  );

  constructor(private readonly deps: AgentHealthWatcherDeps) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.periodic.start(this.deps.everyMs);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass; returns the alerts raised. Passes never overlap. */
  check(): Promise<AgentHealthAlert[]> {
    return this.periodic.run();
  }

  private async pass(): Promise<AgentHealthAlert[]> {
    const raised: AgentHealthAlert[] = [];
    const now = this.now();
    for (const a of await this.deps.agents()) {
      const active = new Map<AgentHealthAlert["ruleId"], string>();
      if (a.telemetry === "refused") active.set(TELEMETRY_REFUSED_RULE_ID, a.telemetryReason ?? "batches refused");
      if (a.telemetry === "stalled") active.set(TELEMETRY_STALLED_RULE_ID, a.telemetryReason ?? "nothing stored");
      const skew = a.clockOffsetMs;
      if (this.deps.clockSkewThresholdMs > 0 && skew !== null && Math.abs(skew) > this.deps.clockSkewThresholdMs) {
        active.set(CLOCK_SKEW_RULE_ID, `clock ${skew > 0 ? "ahead" : "behind"} by ${Math.round(Math.abs(skew) / 1000)} s (threshold ${Math.round(this.deps.clockSkewThresholdMs / 1000)} s)`);
      }
      for (const ruleId of [TELEMETRY_REFUSED_RULE_ID, TELEMETRY_STALLED_RULE_ID, CLOCK_SKEW_RULE_ID] as const) {
        const key = `${a.id}|${ruleId}`;
        const reason = active.get(ruleId);
        if (reason === undefined) {
          this.alerted.delete(key);
          continue;
        }
        if (this.alerted.has(key)) continue;
        const alert: AgentHealthAlert = { ruleId, agentId: a.id, hostname: a.hostname, tags: a.tags, reason, clockOffsetMs: skew, detectedAtMs: now };
        try {
          await this.deps.raise(alert);
          this.alerted.add(key);
          raised.push(alert);
        } catch (err) {
          // Not remembered: the next pass tries again.
          this.deps.onError?.(err);
        }
      }
    }
    return raised;
  }
}

const TITLES: Record<AgentHealthAlert["ruleId"], string> = {
  [TELEMETRY_REFUSED_RULE_ID]: "Agent telemetry refused (connected, but nothing it sends is stored)",
  [TELEMETRY_STALLED_RULE_ID]: "Agent telemetry stalled (connected with a backlog, nothing stored)",
  [CLOCK_SKEW_RULE_ID]: "Agent clock is off (event times from this host are not trusted)",
};

/** The alert as a rule match, so it goes through the alert service like Sigma matches. */
export function agentHealthMatch(a: AgentHealthAlert): PipelineMatch {
  return {
    agentId: a.agentId,
    hostname: a.hostname,
    agentTags: a.tags,
    match: {
      rule: {
        id: a.ruleId,
        title: TITLES[a.ruleId],
        level: a.ruleId === CLOCK_SKEW_RULE_ID ? "medium" : "high",
        // Impair Defenses (blinding the sensor); Timestomp-like for the clock.
        tags: a.ruleId === CLOCK_SKEW_RULE_ID ? ["attack.defense-evasion", "attack.t1070.006"] : ["attack.defense-evasion", "attack.t1562.001"],
      },
      kind: "detection",
      timeMs: a.detectedAtMs,
      events: [
        {
          logsource: { product: "vigil", service: "agent-health" },
          timeMs: a.detectedAtMs,
          fields: {
            AgentId: a.agentId,
            Hostname: a.hostname,
            Reason: a.reason,
            ...(a.clockOffsetMs !== null ? { ClockOffsetSeconds: Math.round(a.clockOffsetMs / 1000) } : {}),
          },
        },
      ],
    },
  };
}

/** Wiring: agents from the registry, alerts through the alert service. */
export function agentHealthAlerts(deps: {
  registry: { list(): Promise<HealthWatchedAgent[]> };
  alerts: { record(matches: PipelineMatch[], writes: []): Promise<void> };
  clockSkewThresholdMs: number;
  stalledAfterMs: number;
  onError: (err: unknown) => void;
}): AgentHealthWatcher {
  return new AgentHealthWatcher({
    agents: () => deps.registry.list(),
    raise: (a) => deps.alerts.record([agentHealthMatch(a)], []),
    clockSkewThresholdMs: deps.clockSkewThresholdMs,
    everyMs: Math.min(30_000, Math.max(250, Math.floor(deps.stalledAfterMs / 4))),
    onError: deps.onError,
  });
}
