import type { Event } from "@vigil/proto";

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
  /** Set when the host's event time was not used (too far off): what it reported. Kept in `data` too. */
  reportedTime?: number;
}

const PREFIXES = ["PROCESS_ACTION_", "FILE_ACTION_", "NETWORK_ACTION_", "AUTH_ACTION_", "DIRECTION_"];

/** "PROCESS_ACTION_START" → "start": the API speaks short lowercase enum names. */
export function shortEnum(value: unknown): unknown {
  if (typeof value !== "string") return value;
  for (const p of PREFIXES) if (value.startsWith(p)) return value.slice(p.length).toLowerCase();
  return value;
}

const ENUM_NAMES: Record<string, Record<number, string>> = {
  process: { 0: "unspecified", 1: "start", 2: "exit" },
  file: { 0: "unspecified", 1: "create", 2: "modify", 3: "delete", 4: "chmod", 5: "rename" },
  network: { 0: "unspecified", 1: "open", 2: "close" },
  auth: {
    0: "unspecified",
    1: "login_success",
    2: "login_failure",
    3: "invalid_user",
    4: "sudo",
    5: "su",
    6: "session_open",
    7: "session_close",
    8: "sudo_failure",
    9: "su_failure",
    10: "access_denied",
    11: "account_locked",
    12: "auth_aborted",
    13: "account_created",
    14: "account_deleted",
    15: "group_member_added",
    16: "password_changed",
    17: "other",
  },
};
const DIRECTIONS: Record<number, string> = { 0: "unspecified", 1: "inbound", 2: "outbound", 3: "listen" };

/**
 * The stored JSON of an event body: default values left out (as proto3 JSON
 * does) and enums as short names. Hand-rolled rather than ts-proto's toJSON,
 * which allocates per field and dominated ingest profiles.
 */
export function bodyJson(ev: Event): { type: string; action: string; body: Record<string, unknown> } {
  const b = ev.body;
  if (!b) return { type: "unknown", action: "", body: {} };
  const src = (b as unknown as Record<string, Record<string, unknown>>)[b.$case];
  const body: Record<string, unknown> = {};
  for (const k in src) {
    const v = src[k];
    if (v === "" || v === 0 || v === false || v === undefined || v === null) continue;
    if (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    body[k] = v;
  }
  const names = ENUM_NAMES[b.$case];
  let action: string;
  if (names) {
    action = names[(src.action as number) ?? 0] ?? String(src.action);
    body.action = action;
  } else {
    action = actionOfUntyped(b);
  }
  if (b.$case === "network") body.direction = DIRECTIONS[b.network.direction] ?? String(b.network.direction);
  if (b.$case === "agent" && b.agent.kind === "command_result" && b.agent.attributes.output !== undefined) {
    // A command's output (evidence: file contents, process lists) lives with the command, behind
    // its permission; the event that carried it is readable by every role, streamed and exported.
    const { output: _output, ...rest } = b.agent.attributes;
    body.attributes = rest;
  }
  return { type: b.$case, action, body };
}

/** Bodies without an action enum are listed by what they are: the agent's kind, the audit record type, the log's program, a DNS lookup's record type. */
function actionOfUntyped(b: NonNullable<Event["body"]>): string {
  switch (b.$case) {
    case "agent":
      return b.agent.kind;
    case "audit":
      return b.audit.recordType.toLowerCase();
    case "log":
      return b.log.program.toLowerCase();
    case "dns":
      return b.dns.queryType.toLowerCase();
    default:
      return "unspecified";
  }
}

/** The text `GET /events?q=` searches: the fields an analyst types fragments of. */
export function summaryOf(ev: Event): string {
  const b = ev.body;
  const parts: Array<string | number> = [];
  switch (b?.$case) {
    case "process": {
      const p = b.process;
      parts.push(p.exe, p.commandLine, p.user, p.parentExe, p.sha256, p.pid, p.containerId);
      break;
    }
    case "file": {
      const f = b.file;
      parts.push(f.path, f.oldPath, f.sha256After, f.containerId);
      break;
    }
    case "network": {
      const n = b.network;
      parts.push(n.remoteAddress, n.remoteHostname, n.localAddress, n.remotePort, n.localPort, n.processName, n.exe, n.user, n.containerId);
      break;
    }
    case "auth": {
      const a = b.auth;
      parts.push(a.user, a.targetUser, a.groupName, a.sourceIp, a.service, a.command, a.raw);
      break;
    }
    case "agent":
      parts.push(b.agent.kind, b.agent.message);
      break;
    case "log":
      parts.push(b.log.program, b.log.message);
      break;
    case "dns":
      parts.push(b.dns.queryName, ...b.dns.answers, b.dns.server, b.dns.processName, b.dns.exe, b.dns.user, b.dns.containerId);
      break;
    case "audit": {
      const f = b.audit.fields;
      parts.push(b.audit.recordType, f.exe ?? "", f.comm ?? "", f.name ?? "", f.key ?? "", f.proctitle ?? "", b.audit.raw);
      // A merged event's other records: the command line (PROCTITLE) and the paths are what an analyst searches.
      for (const r of b.audit.records ?? []) parts.push(r.fields.proctitle ?? "", r.fields.name ?? "", r.fields.cwd ?? "");
      break;
    }
  }
  return parts
    .filter((p) => p !== "" && p !== 0 && p !== undefined)
    .join(" ")
    .slice(0, 8192);
}

/**
 * Where a row keeps the time its host reported when that time was not used
 * (see sanitizeBatch): `{ reportedTime, clockSkewMs }` inside the stored JSON,
 * lifted out by the API. No body field starts with "_".
 */
export const CLOCK_MARK_KEY = "_clock";

export interface ClockMark {
  /** The event time the host reported (ms since the epoch; 0 when it sent none or nonsense). */
  reportedTime: number;
  /** reportedTime minus the receive time: negative for a clock behind, positive ahead. */
  clockSkewMs: number;
}

/**
 * The stored JSON as the API shows it: the body without the clock mark, and the
 * mark (when there is one) as `reportedTime` (ISO) and `clockSkewMs` beside it.
 */
export function splitClockMark(data: Record<string, unknown>): { body: Record<string, unknown>; clock: { reportedTime: string; clockSkewMs: number } | Record<string, never> } {
  const mark = data[CLOCK_MARK_KEY] as ClockMark | undefined;
  if (!mark) return { body: data, clock: {} };
  const { [CLOCK_MARK_KEY]: _omit, ...body } = data;
  return { body, clock: { reportedTime: new Date(mark.reportedTime).toISOString(), clockSkewMs: mark.clockSkewMs } };
}

export function toEventRow(agentId: string, ev: Event, receivedAt: number, reportedTime?: number): EventRow {
  const { type, action, body } = bodyJson(ev);
  if (reportedTime !== undefined) (body as Record<string, unknown>)[CLOCK_MARK_KEY] = { reportedTime, clockSkewMs: reportedTime - receivedAt } satisfies ClockMark;
  return {
    agentId,
    seq: ev.seq,
    type,
    action,
    eventTime: ev.eventTimeMs,
    receivedAt,
    summary: summaryOf(ev),
    data: JSON.stringify(body),
    ...(reportedTime !== undefined ? { reportedTime } : {}),
  };
}
