import type { PipelineMatch } from "./event-meta";
import { PeriodicPass } from "../agents/periodic-pass";

/** The synthetic rule id of controller-generated "agent went silent" alerts. */
export const SILENT_AGENT_RULE_ID = "vigil-agent-silent";

export interface WatchedAgent {
  id: string;
  hostname: string;
  tags: readonly string[];
  online: boolean;
  lastSeenMs: number;
}

export interface SilentAgentAlert {
  agentId: string;
  hostname: string;
  tags: readonly string[];
  lastSeenMs: number;
  /** Silence as the controller could observe it (not counting time it was down itself). */
  silentForMs: number;
  thresholdMs: number;
  detectedAtMs: number;
}

export interface SilentAgentWatcherDeps {
  agents: () => Promise<WatchedAgent[]>;
  raise: (alert: SilentAgentAlert) => Promise<void>;
  /** Whether an alert for this silence (the agent last seen at `lastSeenMs`) was raised before a restart. */
  alreadyRaised?: (agentId: string, lastSeenMs: number) => Promise<boolean>;
  thresholdMs: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

/**
 * Raises one alert per silence: an agent offline for longer than the threshold
 * may have been killed or cut off. Silence is counted from the later of the
 * agent's last message and this controller's start, so a controller that was
 * down itself does not blame every agent when it comes back.
 */
export class SilentAgentWatcher {
  private readonly now: () => number;
  private readonly startedAt: number;
  /** Agent id → the last-seen time of the silence already alerted on. */
  private readonly alerted = new Map<string, number>();
  private readonly periodic = new PeriodicPass(
    () => this.pass(),
    (err) => this.deps.onError?.(err),
  );

  constructor(private readonly deps: SilentAgentWatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.startedAt = this.now();
  }

  /** Checks every quarter of the threshold (between 250 ms and 30 s). */
  start(): void {
    const every = Math.min(30_000, Math.max(250, Math.floor(this.deps.thresholdMs / 4)));
    this.periodic.start(every);
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }

  /** One pass; returns the alerts raised. Passes never overlap. */
  check(): Promise<SilentAgentAlert[]> {
    return this.periodic.run();
  }

  private async pass(): Promise<SilentAgentAlert[]> {
    const raised: SilentAgentAlert[] = [];
    const now = this.now();
    for (const a of await this.deps.agents()) {
      if (a.online) {
        this.alerted.delete(a.id);
        continue;
      }
      const silentForMs = now - Math.max(a.lastSeenMs, this.startedAt);
      if (silentForMs < this.deps.thresholdMs || this.alerted.get(a.id) === a.lastSeenMs) continue;
      if (!this.alerted.has(a.id) && (await this.deps.alreadyRaised?.(a.id, a.lastSeenMs))) {
        this.alerted.set(a.id, a.lastSeenMs);
        continue;
      }
      const alert: SilentAgentAlert = { agentId: a.id, hostname: a.hostname, tags: a.tags, lastSeenMs: a.lastSeenMs, silentForMs, thresholdMs: this.deps.thresholdMs, detectedAtMs: now };
      try {
        await this.deps.raise(alert);
        this.alerted.set(a.id, a.lastSeenMs);
        raised.push(alert);
      } catch (err) {
        // Not remembered: the next pass tries again.
        this.deps.onError?.(err);
      }
    }
    return raised;
  }
}

/**
 * The alert as a rule match, so it goes through the same alert service as
 * Sigma matches (suppressions, dedup, scoring, cases, entity risk).
 */
export function silentAgentMatch(a: SilentAgentAlert): PipelineMatch {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    agentId: a.agentId,
    hostname: a.hostname,
    agentTags: a.tags,
    match: {
      rule: {
        id: SILENT_AGENT_RULE_ID,
        title: "Agent went silent (killed, stopped or cut off from the controller?)",
        level: "high",
        // Impair Defenses: Disable or Modify Tools.
        tags: ["attack.defense-evasion", "attack.t1562.001"],
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
            LastSeen: iso(a.lastSeenMs),
            SilentForSeconds: Math.round(a.silentForMs / 1000),
            ThresholdSeconds: Math.round(a.thresholdMs / 1000),
          },
        },
      ],
    },
  };
}

/** Wiring: agents from the registry, alerts through the alert service, "already raised" from the alerts table. */
export function silentAgentAlerts(deps: {
  registry: { list(): Promise<Array<{ id: string; hostname: string; tags: string[]; online: boolean; lastSeen: string }>> };
  alerts: { record(matches: PipelineMatch[], writes: []): Promise<void> };
  alertQuery: { list(f: { ruleId: string; agentId: string; since: number; limit: number }): Promise<unknown[]> };
  thresholdMs: number;
  onError: (err: unknown) => void;
}): SilentAgentWatcher {
  return new SilentAgentWatcher({
    thresholdMs: deps.thresholdMs,
    agents: async () => (await deps.registry.list()).map((a) => ({ id: a.id, hostname: a.hostname, tags: a.tags, online: a.online, lastSeenMs: Date.parse(a.lastSeen) })),
    raise: (a) => deps.alerts.record([silentAgentMatch(a)], []),
    alreadyRaised: async (agentId, lastSeenMs) => (await deps.alertQuery.list({ ruleId: SILENT_AGENT_RULE_ID, agentId, since: lastSeenMs, limit: 1 })).length > 0,
    onError: deps.onError,
  });
}
