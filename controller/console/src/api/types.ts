// The shapes the controller's JSON API returns (controller/src/api/*, *View functions).
// Only the fields the console reads; the API may send more.

export type Level = "critical" | "high" | "medium" | "low" | "informational";
export type AlertState = "new" | "acknowledged" | "resolved";
export type Verdict = "true_positive" | "false_positive";
export type CommandState = "queued" | "sent" | "succeeded" | "failed" | "refused" | "expired" | "not_enforced";

export interface SensorHealth {
  name: string;
  running: boolean;
  detail: string;
  events: number;
  errors: number;
}

export interface AgentStatus {
  sensors?: SensorHealth[];
  dropped?: Record<string, number>;
  spoolBytes?: number;
  spoolRecords?: number;
  isolated?: boolean;
  spoolDiscardedBytes?: number;
}

export interface Agent {
  id: string;
  hostname: string;
  os: string;
  agentVersion: string;
  ipAddresses: string[];
  tags: string[];
  lastSeen: string;
  online: boolean;
  telemetry?: "ok" | "refused" | "stalled" | "offline";
  telemetryReason?: string | null;
  missingEvents: number;
  /** As the agent last reported it; null before its first status or from an older agent. */
  enforcement?: "enforce" | "monitor" | null;
  status: AgentStatus;
}

export interface ScoreFactor {
  factor: string;
  points: number;
  detail: string;
}

export interface Entity {
  kind: string;
  value: string;
  /** Host entities (value: the agent id) carry the host's name. */
  hostname?: string;
}

export interface EventRef {
  agentId: string;
  seq: number;
  timeMs: number;
}

export interface Alert {
  id: string;
  rule: { id: string; title: string; level: Level; tags: string[] };
  agentId: string;
  hostname: string | null;
  entity: Entity;
  entities: Entity[];
  score: number;
  breakdown: ScoreFactor[];
  count: number;
  firstSeen: string;
  lastSeen: string;
  state: AlertState;
  verdict: Verdict | null;
  caseId: string | null;
  /** The matched events kept: the first ones and the newest ones (bounded); `count` says how many matched. */
  eventRefs?: EventRef[];
  newestEventRef?: EventRef | null;
}

/** GET /alerts/:id: the list view plus its evidence references and the analysts' feedback. */
export interface AlertDetail extends Alert {
  eventRefs: EventRef[];
  /** Matched fields of the first few events, embedded when the alert was raised (outlive retention). */
  events: Record<string, unknown>[];
  feedback?: { verdict: Verdict; note: string | null; actor: string; at: string }[];
}

export const EVENT_KINDS = ["process", "file", "network", "auth", "audit", "log", "dns", "agent"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** One stored telemetry event (controller/src/api/events.controller.ts eventView): the body sits under its type's name. */
export interface TelemetryEvent {
  id: string;
  agentId: string;
  seq: number;
  // An EventKind, or a kind this console does not know yet (shown as is).
  type: string;
  action: string;
  eventTime: string;
  receivedAt: string;
  /** Set when the host's clock was not trusted: eventTime is then the receive time. */
  reportedTime?: string;
  clockSkewMs?: number;
  [body: string]: unknown;
}

export interface TimelineEntry {
  time: string;
  kind: string;
  summary: string;
  ref?: Record<string, unknown>;
  /** Labelled values per event kind (Image, Command line, PID, …). */
  fields?: Array<{ label: string; value: string }>;
  data?: Record<string, unknown>;
}

export interface CaseSummary {
  id: string;
  title: string;
  state: AlertState;
  verdict: Verdict | null;
  score: number;
  entities: Entity[];
  alertCount: number;
  firstSeen: string;
  lastSeen: string;
  resolvedBy: string | null;
}

export interface CaseStory extends CaseSummary {
  alerts: Alert[];
  timeline: TimelineEntry[];
}

export interface Command {
  id: string;
  agentId: string;
  type: string;
  params: Record<string, unknown>;
  /** Set on a command that reverses another (release for an isolate). */
  undoOf?: string | null;
  state: CommandState;
  issuedAt: string | null;
  finishedAt: string | null;
  requestedBy: string | null;
  caseId: string | null;
  local: boolean;
  reason: string | null;
  output?: unknown;
  /** Set instead of output when this key may not see evidence (readonly, integration). */
  outputRedacted?: string;
}

export type PlaybookActionState = "issued" | "pending" | "approved" | "rejected" | "refused" | "skipped";

export interface PlaybookAction {
  id: string;
  playbookId: string;
  alertId: string;
  caseId: string | null;
  agentId: string;
  type: string;
  params: Record<string, unknown>;
  state: PlaybookActionState;
  reason: string | null;
  commandId: string | null;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
}

export interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

export const FINISHED: readonly CommandState[] = ["succeeded", "failed", "refused", "expired", "not_enforced"];

export interface HostInventory {
  agentId: string;
  collectedAt: string;
  receivedAt: string;
  reason: string;
  inventory: {
    os: string;
    kernel: string;
    arch: string;
    cpuModel: string;
    cpuCores: number;
    memoryBytes: number;
    disks: { mount: string; fs: string; sizeBytes: number; usedBytes: number }[];
    interfaces: { name: string; mac: string; addresses: string[] }[];
    users: { name: string; uid: number; shell: string; home: string }[];
    listeners: { protocol: string; address: string; port: number; process: string; pid: number }[];
    packages: { name: string; version: string }[];
    packagesTotal: number;
    errors: string[];
  };
}
