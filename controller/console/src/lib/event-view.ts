import type { TelemetryEvent } from "../api/types";

// How a stored event reads to an analyst: a one-line summary for lists, every field labelled for
// the detail view. The API keeps the wire names (camelCase proto fields); these are the words.

export type Body = Record<string, unknown>;

export function bodyOf(e: TelemetryEvent): Body {
  const b = e[e.type];
  return b && typeof b === "object" && !Array.isArray(b) ? (b as Body) : {};
}

const str = (v: unknown): string => (v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
const join = (...parts: unknown[]): string => parts.map(str).filter(Boolean).join(" ");
const addr = (ip: unknown, port: unknown): string => (ip ? (port ? `${str(ip)}:${str(port)}` : str(ip)) : "");

/** The line an analyst scans: what ran, what was touched, who logged in from where. */
export function summaryOf(e: TelemetryEvent): string {
  const b = bodyOf(e);
  switch (e.type) {
    case "process":
      return b.commandLine ? join(b.commandLine) : join(b.exe);
    case "file":
      return b.oldPath ? `${str(b.oldPath)} → ${str(b.path)}` : str(b.path);
    case "network": {
      const remote = join(addr(b.remoteAddress, b.remotePort), b.remoteHostname ? `(${str(b.remoteHostname)})` : "");
      const local = addr(b.localAddress, b.localPort);
      const arrow = b.direction === "inbound" ? `${remote} → ${local}` : b.direction === "listen" ? `listening on ${local}` : `${local} → ${remote}`;
      return join(b.protocol, arrow, b.exe || b.processName ? `(${str(b.exe || b.processName)})` : "");
    }
    case "auth": {
      const who = join(b.user, b.targetUser ? `→ ${str(b.targetUser)}` : "", b.sourceIp ? `from ${addr(b.sourceIp, b.sourcePort)}` : "", b.service ? `via ${str(b.service)}` : "");
      return b.command ? `${who}: ${str(b.command)}` : who;
    }
    case "log":
      return join(b.program ? `${str(b.program)}:` : "", b.message);
    case "dns": {
      const answers = Array.isArray(b.answers) && b.answers.length > 0 ? `→ ${b.answers.map(str).join(", ")}` : b.answered ? `(rcode ${str(b.rcode)})` : "(no response)";
      return join(b.queryType, b.queryName, answers, b.exe || b.processName ? `(${str(b.exe || b.processName)})` : "");
    }
    case "audit": {
      const f = (b.fields ?? {}) as Body;
      return join(b.recordType, f.exe ?? f.comm, f.proctitle ?? f.name);
    }
    case "agent":
      return join(b.kind, b.message);
    default:
      return JSON.stringify(b).slice(0, 200);
  }
}

/** Who did it, for the list's user column. */
export function userOf(e: TelemetryEvent): string {
  const b = bodyOf(e);
  if (e.type === "audit") {
    const f = (b.fields ?? {}) as Body;
    return str(f.auid ?? f.uid);
  }
  return str(b.user);
}

const LABELS: Record<string, string> = {
  action: "Action",
  pid: "PID",
  ppid: "Parent PID",
  exe: "Image",
  commandLine: "Command line",
  user: "User",
  uid: "User id",
  euid: "Effective user id",
  gid: "Group id",
  cwd: "Working directory",
  startTimeMs: "Process started",
  sha256: "SHA-256",
  parentExe: "Parent image",
  parentCommandLine: "Parent command line",
  name: "Process name",
  exeDeleted: "Deleted executable",
  exitCode: "Exit code",
  durationMs: "Lifetime (ms)",
  cgroupId: "Cgroup id",
  cgroupPath: "Cgroup",
  containerId: "Container id",
  containerRuntime: "Container runtime",
  podUid: "Pod UID",
  systemdUnit: "Systemd unit",
  source: "Sensor",
  path: "Path",
  oldPath: "Old path",
  sha256Before: "SHA-256 before",
  sha256After: "SHA-256 after",
  size: "Size (bytes)",
  mode: "Mode",
  modeBefore: "Mode before",
  mtimeMs: "Modified",
  protocol: "Protocol",
  direction: "Direction",
  localAddress: "Local address",
  localPort: "Local port",
  remoteAddress: "Remote address",
  remotePort: "Remote port",
  remoteHostname: "Remote hostname",
  queryName: "Query",
  queryType: "Query type",
  answers: "Answers",
  answered: "Answered",
  rcode: "Response code",
  server: "DNS server",
  state: "State",
  processName: "Process name",
  bytesSent: "Bytes sent",
  bytesReceived: "Bytes received",
  targetUser: "Target user",
  sourceIp: "Source IP",
  sourcePort: "Source port",
  method: "Method",
  service: "Service",
  command: "Command",
  tty: "TTY",
  hostname: "Hostname (as logged)",
  raw: "Raw record",
  groupName: "Group",
  recordType: "Record type",
  serial: "Serial",
  log: "Log",
  program: "Program",
  message: "Message",
  kind: "Kind",
};

/** Where a kind names a field its own way (the case timeline's words, controller/src/cases/event-fields.ts). */
const KIND_LABELS: Record<string, Record<string, string>> = {
  auth: { raw: "Log line" },
  log: { raw: "Log line" },
  audit: { raw: "Record" },
};

/** Fields holding epoch milliseconds: shown as times, the number kept on hover. */
const TIMES = new Set(["startTimeMs", "mtimeMs"]);
/** Permission bits read in octal. */
const OCTAL = new Set(["mode", "modeBefore"]);

/** "bytesSent" → "Bytes sent", for fields without a label of their own. */
export function labelOf(key: string, kind?: string): string {
  const own = kind ? KIND_LABELS[kind]?.[key] : undefined;
  if (own) return own;
  if (LABELS[key]) return LABELS[key];
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_.]/g, " ")
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export interface Field {
  /** The wire name, dotted for nested maps ("fields.exe"): shown on hover, used as a stable id. */
  key: string;
  label: string;
  value: string;
  /** Long or free-text values (command lines, raw records) get a full-width, monospaced row. */
  long: boolean;
}

function valueText(key: string, v: unknown): string {
  if (TIMES.has(key) && typeof v === "number" && v > 0) return new Date(v).toISOString();
  if (OCTAL.has(key) && typeof v === "number") return `0${v.toString(8)}`;
  if (typeof v === "boolean") return v ? "yes" : "no";
  return str(v);
}

/** At most this many fields per event: an audit event with many records stays readable. */
const MAX_FIELDS = 120;

/**
 * Every field of the event body, labelled, in the order the wire defines; nested maps (audit
 * fields, agent attributes) are flattened to "Fields › exe", and an audit event's other records
 * follow as "Record 2 (PATH) › name".
 */
export function fieldsOf(e: TelemetryEvent): Field[] {
  const out: Field[] = [];
  const push = (key: string, label: string, v: unknown) => {
    if (out.length >= MAX_FIELDS || v === undefined || v === null || v === "") return;
    const value = valueText(key.split(".").pop() ?? key, v);
    out.push({ key, label, value, long: value.length > 60 || /commandLine|raw|proctitle|message/i.test(key) });
  };
  // `map`: a free-form map (audit fields, agent attributes) whose keys are the source's own words, kept as written.
  const walk = (obj: Body, prefix: string, labelPrefix: string, map: boolean) => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (Array.isArray(v) && v.every((x) => x && typeof x === "object")) {
        v.forEach((rec, i) => {
          const r = rec as Body;
          walk(r, `${key}.${i}`, `${labelPrefix}Record ${i + 2}${r.recordType ? ` (${str(r.recordType)})` : ""} › `, false);
        });
      } else if (v && typeof v === "object" && !Array.isArray(v)) {
        walk(v as Body, key, `${labelPrefix}${labelOf(k)} › `, true);
      } else {
        push(key, `${labelPrefix}${map ? k : labelOf(k, e.type)}`, v);
      }
    }
  };
  walk(bodyOf(e), "", "", false);
  return out;
}
