/** One labelled value of a timeline entry ("Command line": "/tmp/x --run"). */
export interface LabelledField {
  label: string;
  value: string;
}

const MAX_VALUE = 1000;
const MAX_FIELDS = 16;

type Spec = Array<[label: string, read: (b: Record<string, unknown>) => unknown]>;

const f = (k: string) => (b: Record<string, unknown>) => b[k];
const endpoint = (addr: string, port: string) => (b: Record<string, unknown>) => (b[addr] ? (b[port] ? `${String(b[addr])}:${String(b[port])}` : b[addr]) : undefined);
const yes = (k: string) => (b: Record<string, unknown>) => (b[k] === true ? "yes" : undefined);
const userWithUid = (b: Record<string, unknown>) => (b.user ? (b.uid !== undefined ? `${String(b.user)} (uid ${String(b.uid)})` : b.user) : b.uid !== undefined ? `uid ${String(b.uid)}` : undefined);
/** Where the acting process runs (process, file, network, DNS events): runtime and the short id, as `docker ps` shows it. */
const container = (b: Record<string, unknown>) => (b.containerId ? `${String(b.containerRuntime || "container")} ${String(b.containerId).slice(0, 12)}` : undefined);
const auditField = (k: string) => (b: Record<string, unknown>) => (b.fields as Record<string, unknown> | undefined)?.[k];

/**
 * What each event kind shows, in reading order: the stored body's keys (as the proto names them)
 * under the words an analyst uses. Bodies keep only non-default values, so absent rows are simply
 * left out.
 */
const SPECS: Record<string, Spec> = {
  process: [
    ["Image", f("exe")],
    ["Command line", f("commandLine")],
    ["PID", f("pid")],
    ["User", userWithUid],
    ["Parent image", f("parentExe")],
    ["Parent command line", f("parentCommandLine")],
    ["Parent PID", f("ppid")],
    ["Working directory", f("cwd")],
    ["Container", container],
    ["Systemd unit", f("systemdUnit")],
    ["SHA-256", f("sha256")],
    ["Deleted executable", yes("exeDeleted")],
    ["Exit code", f("exitCode")],
    ["Sensor", f("source")],
  ],
  file: [
    ["Path", f("path")],
    ["Old path", f("oldPath")],
    ["Process image", f("exe")],
    ["PID", f("pid")],
    ["User", f("user")],
    ["Container", container],
    ["SHA-256 before", f("sha256Before")],
    ["SHA-256 after", f("sha256After")],
    ["Size", f("size")],
  ],
  network: [
    ["Direction", f("direction")],
    ["Protocol", f("protocol")],
    ["Remote", endpoint("remoteAddress", "remotePort")],
    ["Remote hostname", f("remoteHostname")],
    ["Local", endpoint("localAddress", "localPort")],
    ["State", f("state")],
    ["Process image", (b) => b.exe ?? b.processName],
    ["PID", f("pid")],
    ["User", f("user")],
    ["Container", container],
    ["Bytes sent", f("bytesSent")],
    ["Bytes received", f("bytesReceived")],
  ],
  auth: [
    ["User", f("user")],
    ["Target user", f("targetUser")],
    ["Source", endpoint("sourceIp", "sourcePort")],
    ["Service", f("service")],
    ["Method", f("method")],
    ["Command", f("command")],
    ["Group", f("groupName")],
    ["TTY", f("tty")],
    ["PID", f("pid")],
    ["Log line", f("raw")],
  ],
  dns: [
    ["Query", f("queryName")],
    ["Type", f("queryType")],
    ["Answers", (b) => (Array.isArray(b.answers) && b.answers.length > 0 ? b.answers.join(", ") : undefined)],
    ["Answered", yes("answered")],
    ["Response code", f("rcode")],
    ["Server", f("server")],
    ["Process image", (b) => b.exe ?? b.processName],
    ["PID", f("pid")],
    ["User", f("user")],
    ["Container", container],
  ],
  log: [
    ["Log", f("log")],
    ["Program", f("program")],
    ["PID", f("pid")],
    ["Message", f("message")],
  ],
  audit: [
    ["Record type", f("recordType")],
    ["Serial", f("serial")],
    ["Image", auditField("exe")],
    ["Command", auditField("comm")],
    ["Command line", auditField("proctitle")],
    ["Key", auditField("key")],
    ["User (auid)", auditField("auid")],
    ["Record", f("raw")],
  ],
  agent: [
    ["Kind", f("kind")],
    ["Message", f("message")],
  ],
};

const text = (v: unknown): string | undefined => {
  if (v === undefined || v === null || v === "") return undefined;
  const s = typeof v === "object" ? JSON.stringify(v) : String(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
};

/** An event body as labelled fields for its kind; an unknown kind shows its scalar fields under their own names. */
export function labelledFields(type: string, body: Record<string, unknown>): LabelledField[] {
  const spec = SPECS[type];
  const out: LabelledField[] = [];
  if (spec) {
    for (const [label, read] of spec) {
      const value = text(read(body));
      if (value !== undefined) out.push({ label, value });
    }
    return out;
  }
  for (const [k, v] of Object.entries(body)) {
    if (out.length >= MAX_FIELDS) break;
    if (k === "action" || typeof v === "object") continue;
    const value = text(v);
    if (value !== undefined) out.push({ label: k, value });
  }
  return out;
}

/** The one thing an event is about, for its timeline line: the image, the path, the remote end, who logged in. */
export function headline(type: string, body: Record<string, unknown>): string {
  const s = (v: unknown) => (v === undefined || v === null ? "" : String(v));
  switch (type) {
    case "process":
      return s(body.exe ?? body.name);
    case "file":
      return s(body.path);
    case "network":
      return s(endpoint("remoteAddress", "remotePort")(body) ?? body.localAddress);
    case "auth":
      return [s(body.user), body.sourceIp ? `from ${s(body.sourceIp)}` : "", body.service ? `(${s(body.service)})` : ""].filter(Boolean).join(" ");
    case "log":
      return s(body.message);
    case "dns":
      return s(body.queryName);
    case "audit":
      return s(auditField("exe")(body) ?? auditField("comm")(body) ?? body.recordType);
    case "agent":
      return s(body.message ?? body.kind);
    default:
      return "";
  }
}
