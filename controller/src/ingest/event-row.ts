import { AgentEvent, AuthEvent, Event, FileEvent, NetworkEvent, ProcessEvent } from "@vigil/proto";

/** One row of the events table, built without the ORM on the hot path. */
export interface EventRow {
  agentId: string;
  seq: number;
  type: string;
  action: string;
  eventTime: number;
  receivedAt: number;
  summary: string;
  data: string;
}

const PREFIXES = ["PROCESS_ACTION_", "FILE_ACTION_", "NETWORK_ACTION_", "AUTH_ACTION_", "DIRECTION_"];

/** "PROCESS_ACTION_START" → "start": the API speaks short lowercase enum names. */
export function shortEnum(value: unknown): unknown {
  if (typeof value !== "string") return value;
  for (const p of PREFIXES) if (value.startsWith(p)) return value.slice(p.length).toLowerCase();
  return value;
}

export function bodyJson(ev: Event): { type: string; action: string; body: Record<string, unknown> } {
  const b = ev.body;
  let body: Record<string, unknown>;
  switch (b?.$case) {
    case "process": body = ProcessEvent.toJSON(b.process) as Record<string, unknown>; break;
    case "file": body = FileEvent.toJSON(b.file) as Record<string, unknown>; break;
    case "network": body = NetworkEvent.toJSON(b.network) as Record<string, unknown>; break;
    case "auth": body = AuthEvent.toJSON(b.auth) as Record<string, unknown>; break;
    case "agent": body = AgentEvent.toJSON(b.agent) as Record<string, unknown>; break;
    default: return { type: "unknown", action: "", body: {} };
  }
  if ("action" in body) body.action = shortEnum(body.action);
  if ("direction" in body) body.direction = shortEnum(body.direction);
  const action = b.$case === "agent" ? b.agent.kind : String(body.action ?? "unspecified");
  return { type: b.$case, action, body };
}

/** The text `GET /events?q=` searches: the fields an analyst types fragments of. */
export function summaryOf(ev: Event): string {
  const b = ev.body;
  const parts: Array<string | number> = [];
  switch (b?.$case) {
    case "process": { const p = b.process; parts.push(p.exe, p.commandLine, p.user, p.parentExe, p.sha256, p.pid); break; }
    case "file": { const f = b.file; parts.push(f.path, f.oldPath, f.sha256After); break; }
    case "network": { const n = b.network; parts.push(n.remoteAddress, n.localAddress, n.remotePort, n.localPort, n.processName, n.exe, n.user); break; }
    case "auth": { const a = b.auth; parts.push(a.user, a.targetUser, a.sourceIp, a.service, a.command, a.raw); break; }
    case "agent": parts.push(b.agent.kind, b.agent.message); break;
  }
  return parts.filter((p) => p !== "" && p !== 0 && p !== undefined).join(" ").slice(0, 8192);
}

export function toEventRow(agentId: string, ev: Event, receivedAt: number): EventRow {
  const { type, action, body } = bodyJson(ev);
  return {
    agentId,
    seq: ev.seq,
    type,
    action,
    eventTime: ev.eventTimeMs,
    receivedAt,
    summary: summaryOf(ev),
    data: JSON.stringify(body),
  };
}
