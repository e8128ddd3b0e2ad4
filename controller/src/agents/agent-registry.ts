import { MAX_SEQ, type ControllerMessage, type Hello } from "@vigil/proto";
import type { AgentRepository } from "../database/repositories/agent-repository";
import type { AgentEntity } from "../database/entities";
import type { AgentCursor } from "../database/repositories/event-store";
import { DEFAULT_SEQ_WINDOW, SeqWindow, type SeqRefusal, type SeqWindowOptions } from "../ingest/seq-window";
import type { AgentIdentity } from "../trust/authenticator";
import { Coalescer } from "../database/coalescer";
import { AgentHealth, type TelemetryState } from "./agent-health";
import { LastSeenWriter } from "./last-seen-writer";
import type { PresenceEntry, RemoteAgents } from "./cluster-presence";

/** What the registry needs from a live stream. */
export interface LiveSession {
  readonly agentId: string;
  send(msg: ControllerMessage): void;
  close(reason: string): void;
}

export interface AgentView {
  id: string;
  hostname: string;
  os: string;
  kernel: string;
  arch: string;
  agentVersion: string;
  ipAddresses: string[];
  /** From the enrollment token or the admin: what guard rails and playbooks read. */
  tags: string[];
  /** What the agent claims about itself in its Hello: shown, never trusted. */
  selfReportedTags: string[];
  bootTime: string | null;
  firstSeen: string;
  lastSeen: string;
  /** Connected and its telemetry being stored. */
  online: boolean;
  /** Has a live stream (which may still be refused or stalled). */
  connected: boolean;
  /** ok; refused (its batches are refused, nothing stored); stalled (a backlog and nothing stored); offline. */
  telemetry: TelemetryState | "offline";
  telemetryReason: string | null;
  /** The agent's clock minus the controller's (ms), from its last Hello or heartbeat; null before one. */
  clockOffsetMs: number | null;
  /** Milliseconds since the agent was last heard from while offline; null when online. */
  offlineForMs: number | null;
  /** Whether the host is network-isolated, as the agent last reported; null before its first report. */
  isolated: boolean | null;
  /** The agent's enforcement mode as it last reported it; null before its first status or from an older agent. */
  enforcement: "enforce" | "monitor" | null;
  ackedSeq: number;
  lastSeq: number;
  gaps: Array<[number, number]>;
  missingEvents: number;
  status: Record<string, unknown>;
}

const iso = (ms: number) => new Date(ms).toISOString();

export interface AgentConnection {
  cursor: AgentCursor;
  /** How far this agent's seqs may run ahead; anchored at its Hello when that fits. */
  window: SeqWindow;
  /** Hello.last_seq did not fit the window and was not taken. */
  claimRefused: SeqRefusal | null;
  /** The stored cursor was past MAX_SEQ (poisoned before seq windows) and was brought back. */
  cursorHealed: { from: { ackedSeq: number; lastSeq: number }; to: number } | null;
}

/** Agents per batched read or write of registrations. */
const ROWS_PER_BATCH = 250;

export interface RegistryOptions {
  seqWindow: SeqWindowOptions;
  /** A connected agent with a backlog and nothing stored for this long is stalled. */
  stalledAfterMs: number;
  /** Distributed mode: agents whose streams other replicas hold (absent: this process holds them all). */
  remote?: RemoteAgents;
  /** How often noted last-seen times and statuses are written, in one batch (ms). */
  seenFlushMs?: number;
}

/**
 * Agents known to the controller and the one live stream each may have. Last
 * seen is kept in memory on every message and written through at most every
 * few seconds, so heartbeats from a large fleet do not become write load.
 */
export class AgentRegistry {
  private sessions = new Map<string, LiveSession>();
  private lastSeen = new Map<string, number>();
  private lastPersisted = new Map<string, number>();
  private connectListeners: Array<(agentId: string, online: boolean) => void> = [];
  readonly health: AgentHealth;
  private readonly opts: Omit<RegistryOptions, "remote">;
  private readonly remote?: RemoteAgents;
  private readonly seen: LastSeenWriter;
  /** A fleet connecting together reads and writes its agents' rows a batch per statement (see Coalescer). */
  private readonly rows: Coalescer<string, AgentEntity | null>;
  private readonly registrations: Coalescer<AgentEntity, void>;

  constructor(
    private readonly agents: AgentRepository,
    private readonly offlineAfterMs: number,
    private readonly now: () => number = Date.now,
    opts: Partial<RegistryOptions> = {},
  ) {
    this.opts = { seqWindow: opts.seqWindow ?? DEFAULT_SEQ_WINDOW, stalledAfterMs: opts.stalledAfterMs ?? 120_000 };
    this.health = new AgentHealth(this.opts.stalledAfterMs, now);
    this.remote = opts.remote;
    this.seen = new LastSeenWriter(agents, opts.seenFlushMs ?? 1_000);
    // One agent at most once per batch: a second connect of it gets a row of its own, read after the first's write.
    this.rows = new Coalescer({
      maxItems: ROWS_PER_BATCH,
      keyOf: (id) => id,
      runMany: async (ids) => {
        const found = new Map((await agents.byIds(ids)).map((a) => [a.id, a]));
        return ids.map((id) => found.get(id) ?? null);
      },
    });
    this.registrations = new Coalescer<AgentEntity, void>({
      maxItems: ROWS_PER_BATCH,
      keyOf: (a) => a.id,
      isolateFailures: true,
      runMany: async (rows) => {
        await agents.saveRegistrations(rows);
        return rows.map(() => undefined);
      },
    });
  }

  /** How registrations' reads and writes were batched (health). */
  registrationBatching(): { reads: Coalescer<string, unknown>["stats"]; writes: Coalescer<AgentEntity, void>["stats"] } {
    return { reads: this.rows.stats, writes: this.registrations.stats };
  }

  /** Writes last-seen times still pending (shutdown). */
  close(): Promise<void> {
    return this.seen.close();
  }

  onConnectionChange(l: (agentId: string, online: boolean) => void): void {
    this.connectListeners.push(l);
  }

  async connect(agentId: string, hello: Hello, id: Pick<AgentIdentity, "tags" | "selfReportedTags" | "enrolledAtMs">, session: LiveSession): Promise<AgentConnection> {
    const now = this.now();
    const existing = await this.rows.submit(agentId);
    const entity = existing ?? this.agents.fresh(agentId, now);
    const cursorHealed = existing ? await this.healPoisonedCursor(entity) : null;
    // What the controller knew of this agent, and when: the window grows from there (for an agent
    // never seen, from its enrollment: it may have spooled since while the controller was away).
    const knownAt = existing ? existing.lastSeen : Math.min(now, id.enrolledAtMs ?? now);
    const window = new SeqWindow(entity.lastSeq ?? 0, knownAt, this.opts.seqWindow);
    const claimRefused = window.claim(hello.lastSeq, now, entity.ackedSeq);
    entity.hostname = hello.hostname.slice(0, 255);
    entity.os = hello.os.slice(0, 255);
    entity.kernel = hello.kernel.slice(0, 255);
    entity.arch = hello.arch.slice(0, 64);
    entity.agentVersion = hello.agentVersion.slice(0, 64);
    entity.ipAddresses = hello.ipAddresses.slice(0, 64).map((a) => a.slice(0, 64));
    entity.tags = entity.adminTags ?? id.tags;
    entity.selfReportedTags = id.selfReportedTags;
    entity.bootTime = hello.bootTimeMs;
    entity.lastSeen = now;
    if (!claimRefused) entity.lastSeq = Math.max(entity.lastSeq ?? 0, hello.lastSeq);
    if (hello.status) entity.status = statusJson(hello.status);
    // A known agent's cursor is written by storage (possibly committing right now, on another replica); a healed one is written here.
    // A healed cursor is written whole, alone (rare); every other registration keeps the stored cursor.
    if (cursorHealed) await this.agents.save(entity);
    else await this.registrations.submit(entity);
    const previous = this.sessions.get(agentId);
    if (previous && previous !== session) previous.close("replaced by a newer connection from the same agent");
    this.sessions.set(agentId, session);
    this.lastSeen.set(agentId, now);
    this.lastPersisted.set(agentId, now);
    this.health.connected(agentId, hello.timeMs, hello.status?.spoolRecords ?? 0);
    for (const l of this.connectListeners) l(agentId, true);
    return { cursor: { agentId, ackedSeq: entity.ackedSeq, lastSeq: entity.lastSeq, gaps: entity.gaps, missing: entity.missingEvents }, window, claimRefused, cursorHealed };
  }

  /**
   * A cursor past MAX_SEQ was poisoned before seq windows existed (a forged
   * 2^53−1 accepted and acked): brought back to the highest seq actually stored
   * below it, so the agent's real events are acked again.
   */
  private async healPoisonedCursor(entity: AgentEntity): Promise<{ from: { ackedSeq: number; lastSeq: number }; to: number } | null> {
    if (entity.ackedSeq <= MAX_SEQ && entity.lastSeq <= MAX_SEQ) return null;
    const to = await this.agents.highestStoredSeq(entity.id, MAX_SEQ);
    const from = { ackedSeq: entity.ackedSeq, lastSeq: entity.lastSeq };
    entity.ackedSeq = Math.min(entity.ackedSeq, to);
    entity.lastSeq = to;
    entity.gaps = entity.gaps.filter(([a, b]) => a <= MAX_SEQ && b <= MAX_SEQ);
    return { from, to };
  }

  /**
   * The admin's word on an agent's trusted tags (what guard rails and playbook
   * targeting read); kept over the token's from then on. Null: no such agent.
   */
  async setTags(agentId: string, tags: string[]): Promise<{ before: string[]; after: string[] } | null> {
    const row = await this.agents.byId(agentId);
    if (!row) return null;
    const before = row.tags;
    await this.agents.setAdminTags(agentId, tags);
    return { before, after: tags };
  }

  touch(agentId: string, status?: Record<string, unknown>): void {
    const now = this.now();
    this.lastSeen.set(agentId, now);
    if (typeof status?.spoolRecords === "number") this.health.backlog(agentId, status.spoolRecords);
    const persistedAt = this.lastPersisted.get(agentId) ?? 0;
    if (status || now - persistedAt > 5_000) {
      this.lastPersisted.set(agentId, now);
      this.seen.note(agentId, now, status);
    }
  }

  disconnect(agentId: string, session: LiveSession): void {
    if (this.sessions.get(agentId) !== session) return;
    this.sessions.delete(agentId);
    const now = this.lastSeen.get(agentId) ?? this.now();
    this.seen.note(agentId, now);
    for (const l of this.connectListeners) l(agentId, false);
  }

  session(agentId: string): LiveSession | undefined {
    return this.sessions.get(agentId);
  }

  isOnline(agentId: string): boolean {
    const seen = this.lastSeen.get(agentId);
    return this.sessions.has(agentId) && seen !== undefined && this.now() - seen <= this.offlineAfterMs;
  }

  /** The agents whose live streams this process holds, as presence announces them to other replicas. */
  localAgents(): PresenceEntry[] {
    const out: PresenceEntry[] = [];
    for (const agentId of this.sessions.keys()) out.push(this.localAgent(agentId)!);
    return out;
  }

  localAgent(agentId: string): PresenceEntry | undefined {
    if (!this.sessions.has(agentId)) return undefined;
    const t = this.health.telemetry(agentId, this.isOnline(agentId));
    return { agentId, lastSeen: this.lastSeen.get(agentId) ?? 0, telemetry: t.state, telemetryReason: t.reason, clockOffsetMs: this.health.clockOffsetMs(agentId) };
  }

  /** Agents connected to this process (not the cluster: each replica reports its own). */
  onlineCount(): number {
    let n = 0;
    for (const id of this.sessions.keys()) if (this.isOnline(id)) n++;
    return n;
  }

  closeAll(reason: string): void {
    for (const s of this.sessions.values()) s.close(reason);
    this.sessions.clear();
  }

  async list(): Promise<AgentView[]> {
    const rows = await this.agents.listByHostname();
    return rows.map((r) => this.view(r));
  }

  /** Host names and tags of many agents in one query (detection's directory fills its cache with it). */
  labels(ids: readonly string[]): Promise<Map<string, { hostname: string; tags: string[] }>> {
    return this.agents.labels(ids);
  }

  async get(id: string): Promise<AgentView | null> {
    const row = await this.agents.byId(id);
    return row ? this.view(row) : null;
  }

  private view(r: AgentEntity): AgentView {
    const local = this.isOnline(r.id);
    // Not held here: another replica may hold its stream (distributed mode).
    const remote = local ? undefined : this.remote?.find(r.id);
    const remoteLive = remote !== undefined && this.now() - remote.lastSeen <= this.offlineAfterMs;
    const seen = Math.max(r.lastSeen, this.lastSeen.get(r.id) ?? 0, remote?.lastSeen ?? 0);
    const connected = local || remoteLive;
    const telemetry = remoteLive ? { state: remote.telemetry, reason: remote.telemetryReason } : this.health.telemetry(r.id, connected);
    const online = connected && telemetry.state === "ok";
    // A status reported but not yet written (batched) is the newest one.
    const status = this.seen.pendingStatus(r.id) ?? r.status;
    return {
      id: r.id,
      hostname: r.hostname,
      os: r.os,
      kernel: r.kernel,
      arch: r.arch,
      agentVersion: r.agentVersion,
      ipAddresses: r.ipAddresses,
      tags: r.tags,
      selfReportedTags: r.selfReportedTags ?? [],
      bootTime: r.bootTime ? iso(r.bootTime) : null,
      firstSeen: iso(r.firstSeen),
      lastSeen: iso(seen),
      online,
      connected,
      telemetry: connected || telemetry.state === "refused" ? telemetry.state : "offline",
      telemetryReason: telemetry.reason,
      clockOffsetMs: remoteLive ? remote.clockOffsetMs : this.health.clockOffsetMs(r.id),
      offlineForMs: connected ? null : Math.max(0, this.now() - seen),
      isolated: typeof status?.isolated === "boolean" ? status.isolated : null,
      enforcement: status?.enforcement === "enforce" || status?.enforcement === "monitor" ? status.enforcement : null,
      ackedSeq: r.ackedSeq,
      lastSeq: r.lastSeq,
      gaps: r.gaps,
      missingEvents: r.missingEvents,
      status,
    };
  }
}

/** AgentStatus (proto) → the JSON stored and shown by the API. */
export function statusJson(s: {
  sensors: Array<{ name: string; running: boolean; detail: string; events: number; errors: number }>;
  dropped: Record<string, number>;
  spoolBytes: number;
  spoolRecords: number;
  isolated: boolean;
  spoolDiscardedBytes: number;
  acksBeyondLast?: number;
  enforcement?: string;
  pipelineLost?: Record<string, number>;
  unhandledErrors?: number;
  watchdogRestarts?: Record<string, number>;
}): Record<string, unknown> {
  return {
    sensors: s.sensors.slice(0, 32).map((x) => ({ name: x.name.slice(0, 64), running: x.running, detail: x.detail.slice(0, 512), events: x.events, errors: x.errors })),
    dropped: Object.fromEntries(Object.entries(s.dropped).slice(0, 32)),
    spoolBytes: s.spoolBytes,
    spoolRecords: s.spoolRecords,
    isolated: s.isolated,
    spoolDiscardedBytes: s.spoolDiscardedBytes,
    ...(s.acksBeyondLast !== undefined ? { acksBeyondLast: s.acksBeyondLast } : {}),
    // Losses and faults the agent reports about itself (absent from older agents): bounded like `dropped`.
    ...(s.pipelineLost && Object.keys(s.pipelineLost).length ? { pipelineLost: Object.fromEntries(Object.entries(s.pipelineLost).slice(0, 32)) } : {}),
    ...(s.unhandledErrors ? { unhandledErrors: s.unhandledErrors } : {}),
    ...(s.watchdogRestarts && Object.keys(s.watchdogRestarts).length ? { watchdogRestarts: Object.fromEntries(Object.entries(s.watchdogRestarts).slice(0, 32)) } : {}),
    // Only the two values an agent can be in; anything else (or an older agent's "") is not shown as a mode.
    ...(s.enforcement === "enforce" || s.enforcement === "monitor" ? { enforcement: s.enforcement } : {}),
  };
}
