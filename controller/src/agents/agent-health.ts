/**
 * What a live stream does not show by itself: whether the agent's telemetry is
 * actually being stored, and how far its clock is from ours. A connected agent
 * whose batches are refused, or that has a backlog and gets nothing stored, is
 * connected but blind; it must not look "online".
 */
export type TelemetryState = "ok" | "refused" | "stalled";

export interface TelemetryView {
  state: TelemetryState;
  /** Why, when not ok. */
  reason: string | null;
  /** Since when (ms), when not ok. */
  sinceMs: number | null;
}

interface Health {
  connectedAt: number;
  lastStoredAt: number;
  /** Records waiting in the agent's spool, as it last reported. */
  backlog: number;
  refused?: { reason: string; at: number; count: number };
  /** Agent clock minus controller clock (ms), from its last Hello or heartbeat. */
  clockOffsetMs?: number;
}

/** Offsets from a clock reading are only as good as the transit time; below this they are noise. */
const OFFSET_RESOLUTION_MS = 1_000;

export class AgentHealth {
  private readonly byAgent = new Map<string, Health>();

  constructor(
    private readonly stalledAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  connected(agentId: string, agentTimeMs: number | undefined, backlog: number): void {
    const now = this.now();
    const prev = this.byAgent.get(agentId);
    // A refusal outlives the stream it ended: the agent reconnects and is refused again until it is fixed.
    this.byAgent.set(agentId, { connectedAt: now, lastStoredAt: prev?.lastStoredAt ?? 0, backlog, refused: prev?.refused });
    this.clock(agentId, agentTimeMs);
  }

  /** A reading of the agent's clock (Hello.time_ms, Heartbeat.time_ms); 0 or nonsense is ignored. */
  clock(agentId: string, agentTimeMs: number | undefined): void {
    const h = this.byAgent.get(agentId);
    if (!h || agentTimeMs === undefined || !Number.isSafeInteger(agentTimeMs) || agentTimeMs <= 0) return;
    const offset = agentTimeMs - this.now();
    h.clockOffsetMs = Math.abs(offset) < OFFSET_RESOLUTION_MS ? 0 : offset;
  }

  backlog(agentId: string, records: number): void {
    const h = this.byAgent.get(agentId);
    if (h && Number.isFinite(records)) h.backlog = records;
  }

  stored(agentId: string): void {
    const h = this.byAgent.get(agentId);
    if (!h) return;
    h.lastStoredAt = this.now();
    h.refused = undefined;
  }

  refused(agentId: string, reason: string): void {
    const h = this.byAgent.get(agentId);
    if (!h) return;
    h.refused = { reason: reason.slice(0, 512), at: h.refused?.at ?? this.now(), count: (h.refused?.count ?? 0) + 1 };
  }

  forget(agentId: string): void {
    this.byAgent.delete(agentId);
  }

  clockOffsetMs(agentId: string): number | null {
    return this.byAgent.get(agentId)?.clockOffsetMs ?? null;
  }

  /** `connected`: whether the agent has a live stream now (a stall needs one). */
  telemetry(agentId: string, connected: boolean): TelemetryView {
    const h = this.byAgent.get(agentId);
    if (h?.refused) return { state: "refused", reason: `${h.refused.count} batch(es) refused, nothing stored: ${h.refused.reason}`, sinceMs: h.refused.at };
    if (h && connected && h.backlog > 0) {
      const since = Math.max(h.lastStoredAt, h.connectedAt);
      if (this.now() - since > this.stalledAfterMs) {
        return { state: "stalled", reason: `${h.backlog} event(s) waiting in the agent's spool and nothing stored for ${Math.round((this.now() - since) / 1000)} s`, sinceMs: since };
      }
    }
    return { state: "ok", reason: null, sinceMs: null };
  }
}
