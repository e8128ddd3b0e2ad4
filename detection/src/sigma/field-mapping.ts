/**
 * Vigil events -> flat Sigma records (Sysmon-for-Linux field names). The table in
 * docs/sigma-support.md is the contract; keep the two in step.
 */
import { AuthAction, Direction, FileAction, NetworkAction, ProcessAction, type AuthEvent, type Event, type ProcessEvent } from "@vigil/proto";
import type { SigmaEvent } from "./types";

export interface MappingContext {
  agentId: string;
  hostname: string;
  /** IOC hits the controller found for this event; exposed as IocMatch/IocValue/IocSource fields. */
  iocMatches?: { type: string; value: string; source?: string }[];
}

const AUTH_OUTCOME: Partial<Record<AuthAction, { action: string; outcome?: "success" | "failure" }>> = {
  [AuthAction.AUTH_ACTION_LOGIN_SUCCESS]: { action: "login_success", outcome: "success" },
  [AuthAction.AUTH_ACTION_LOGIN_FAILURE]: { action: "login_failure", outcome: "failure" },
  [AuthAction.AUTH_ACTION_INVALID_USER]: { action: "invalid_user", outcome: "failure" },
  [AuthAction.AUTH_ACTION_SUDO]: { action: "sudo", outcome: "success" },
  [AuthAction.AUTH_ACTION_SUDO_FAILURE]: { action: "sudo_failure", outcome: "failure" },
  [AuthAction.AUTH_ACTION_SU]: { action: "su", outcome: "success" },
  [AuthAction.AUTH_ACTION_SU_FAILURE]: { action: "su_failure", outcome: "failure" },
  [AuthAction.AUTH_ACTION_SESSION_OPEN]: { action: "session_open", outcome: "success" },
  [AuthAction.AUTH_ACTION_SESSION_CLOSE]: { action: "session_close", outcome: "success" },
  [AuthAction.AUTH_ACTION_ACCESS_DENIED]: { action: "access_denied", outcome: "failure" },
  [AuthAction.AUTH_ACTION_ACCOUNT_LOCKED]: { action: "account_locked", outcome: "failure" },
  [AuthAction.AUTH_ACTION_AUTH_ABORTED]: { action: "auth_aborted", outcome: "failure" },
  [AuthAction.AUTH_ACTION_ACCOUNT_CREATED]: { action: "account_created", outcome: "success" },
  [AuthAction.AUTH_ACTION_ACCOUNT_DELETED]: { action: "account_deleted", outcome: "success" },
  [AuthAction.AUTH_ACTION_GROUP_MEMBER_ADDED]: { action: "group_member_added", outcome: "success" },
  [AuthAction.AUTH_ACTION_PASSWORD_CHANGED]: { action: "password_changed", outcome: "success" },
  [AuthAction.AUTH_ACTION_OTHER]: { action: "other" },
};

const FILE_ACTION: Partial<Record<FileAction, string>> = {
  [FileAction.FILE_ACTION_CREATE]: "create",
  [FileAction.FILE_ACTION_MODIFY]: "modify",
  [FileAction.FILE_ACTION_DELETE]: "delete",
  [FileAction.FILE_ACTION_CHMOD]: "chmod",
  [FileAction.FILE_ACTION_RENAME]: "rename",
};

/** Empty strings and zeros from proto defaults mean "not reported": leave such fields out. */
function put(f: Record<string, unknown>, key: string, v: unknown): void {
  if (v === undefined || v === null || v === "") return;
  f[key] = v;
}

/** Where the acting process runs, from its cgroup path (the agent reads the runtimes' layouts): absent when unknown. */
function putPlace(f: Record<string, unknown>, p: Pick<ProcessEvent, "cgroupPath" | "containerId" | "containerRuntime" | "podUid" | "systemdUnit">): void {
  put(f, "CgroupPath", p.cgroupPath);
  put(f, "ContainerId", p.containerId);
  put(f, "ContainerRuntime", p.containerRuntime);
  put(f, "PodUid", p.podUid);
  put(f, "SystemdUnit", p.systemdUnit);
}

/** Returns null for events that carry nothing to detect on (no body). */
export function toSigmaEvent(event: Event, ctx: MappingContext): SigmaEvent | null {
  const body = event.body;
  if (!body) return null;
  const f: Record<string, unknown> = { AgentId: ctx.agentId, Hostname: ctx.hostname, Computer: ctx.hostname, EventSeq: event.seq };
  if (ctx.iocMatches?.length) {
    f.IocMatch = ctx.iocMatches.map((m) => m.type);
    f.IocValue = ctx.iocMatches.map((m) => m.value);
    const src = ctx.iocMatches.flatMap((m) => (m.source ? [m.source] : []));
    if (src.length) f.IocSource = src;
  }
  const ev = (category: string, service?: string): SigmaEvent => ({
    logsource: service ? { product: "linux", category, service } : { product: "linux", category },
    fields: f,
    timeMs: event.eventTimeMs,
  });
  switch (body.$case) {
    case "process": {
      const p = body.process;
      put(f, "Image", p.exe);
      put(f, "CommandLine", p.commandLine);
      put(f, "ParentImage", p.parentExe);
      put(f, "ParentCommandLine", p.parentCommandLine);
      put(f, "User", p.user);
      f.UserId = p.uid;
      f.LogonId = p.uid; // Sysmon for Linux reports the login uid here; the uid is our closest value
      f.ProcessId = p.pid;
      f.ParentProcessId = p.ppid;
      // Lets a response action target exactly this process, never a later one that reuses the pid.
      if (p.startTimeMs) f.ProcessStartTimeMs = p.startTimeMs;
      put(f, "CurrentDirectory", p.cwd);
      put(f, "ProcessName", p.name);
      if (p.sha256) {
        f.Hashes = `SHA256=${p.sha256.toUpperCase()}`;
        f.sha256 = p.sha256.toLowerCase();
      }
      f.ImageDeleted = p.exeDeleted;
      putPlace(f, p);
      if (p.action === ProcessAction.PROCESS_ACTION_EXIT) {
        f.ExitCode = p.exitCode;
        return ev("process_termination");
      }
      return ev("process_creation");
    }
    case "file": {
      const x = body.file;
      put(f, "TargetFilename", x.path);
      put(f, "SourceFilename", x.oldPath);
      put(f, "FileAction", FILE_ACTION[x.action]);
      if (x.sha256After) {
        f.Hashes = `SHA256=${x.sha256After.toUpperCase()}`;
        f.sha256 = x.sha256After.toLowerCase();
      }
      put(f, "sha256Before", x.sha256Before.toLowerCase());
      f.FileSize = x.size;
      f.FileMode = x.mode.toString(8).padStart(4, "0");
      if (x.action === FileAction.FILE_ACTION_CHMOD) f.FileModeBefore = x.modeBefore.toString(8).padStart(4, "0");
      f.UserId = x.uid;
      f.GroupId = x.gid;
      put(f, "Image", x.exe);
      if (x.pid) f.ProcessId = x.pid;
      put(f, "User", x.user);
      putPlace(f, x);
      return ev(x.action === FileAction.FILE_ACTION_DELETE ? "file_delete" : "file_event");
    }
    case "network": {
      const n = body.network;
      const inbound = n.direction === Direction.DIRECTION_INBOUND;
      // Sysmon convention: Source is the side that initiated the connection.
      put(f, "SourceIp", inbound ? n.remoteAddress : n.localAddress);
      f.SourcePort = inbound ? n.remotePort : n.localPort;
      put(f, "DestinationIp", inbound ? n.localAddress : n.remoteAddress);
      f.DestinationPort = inbound ? n.localPort : n.remotePort;
      f.Initiated = n.direction === Direction.DIRECTION_OUTBOUND ? "true" : "false";
      if (n.direction === Direction.DIRECTION_LISTEN) f.Listening = "true";
      put(f, "Protocol", n.protocol.replace(/6$/, ""));
      f.DestinationIsIpv6 = n.protocol.endsWith("6") || n.remoteAddress.includes(":") ? "true" : "false";
      put(f, "Image", n.exe);
      put(f, "ProcessName", n.processName);
      f.ProcessId = n.pid;
      put(f, "User", n.user);
      put(f, "State", n.state);
      f.BytesSent = n.bytesSent;
      f.BytesReceived = n.bytesReceived;
      // The name a recent DNS answer on the host gave the peer's address (Sysmon resolves it the same way).
      put(f, inbound ? "SourceHostname" : "DestinationHostname", n.remoteHostname);
      putPlace(f, n);
      return ev(n.action === NetworkAction.NETWORK_ACTION_CLOSE ? "network_close" : "network_connection");
    }
    case "dns": {
      const d = body.dns;
      put(f, "QueryName", d.queryName);
      put(f, "QueryType", d.queryType);
      if (d.answers.length > 0) f.QueryResults = d.answers;
      // Sysmon's QueryStatus is the outcome code (0 success); absent when no response came.
      if (d.answered) f.QueryStatus = d.rcode;
      f.Answered = d.answered ? "true" : "false";
      put(f, "DnsServer", d.server);
      put(f, "Image", d.exe);
      put(f, "ProcessName", d.processName);
      f.ProcessId = d.pid;
      put(f, "User", d.user);
      putPlace(f, d);
      return ev("dns_query");
    }
    case "auth": {
      const a = body.auth;
      const o = AUTH_OUTCOME[a.action];
      put(f, "User", a.user);
      put(f, "TargetUser", a.targetUser);
      put(f, "GroupName", a.groupName);
      put(f, "SourceIp", a.sourceIp);
      if (a.sourcePort) f.SourcePort = a.sourcePort;
      put(f, "AuthMethod", a.method);
      put(f, "AuthAction", o?.action);
      put(f, "Outcome", o?.outcome);
      put(f, "Service", a.service);
      f.ProcessId = a.pid;
      put(f, "CommandLine", a.command);
      put(f, "Tty", a.tty);
      if (a.hostname) f.Hostname = a.hostname;
      put(f, "Message", a.raw);
      authAliases(f, a);
      const svc = a.service.toLowerCase();
      return ev("authentication", svc === "sshd" || svc === "sudo" || svc === "su" ? svc : "auth");
    }
    case "audit": {
      // auditd's own field names are the taxonomy Sigma's auditd rules use; keep them as written.
      const a = body.audit;
      if (!a.records?.length) {
        for (const [k, v] of Object.entries(a.fields)) f[k] = v;
        f.type = a.recordType;
        put(f, "Message", a.raw);
        return ev("audit", "auditd");
      }
      Object.assign(f, mergedAuditFields([{ recordType: a.recordType, fields: a.fields }, ...a.records]));
      put(f, "Message", [a.raw, ...a.records.map((r) => r.raw)].filter(Boolean).join("\n"));
      return ev("audit", "auditd");
    }
    case "log": {
      const l = body.log;
      put(f, "Program", l.program);
      if (l.pid) f.ProcessId = l.pid;
      if (l.hostname) f.Hostname = l.hostname;
      put(f, "Message", l.message);
      put(f, "host", l.hostname);
      return ev("syslog", syslogService(l.program));
    }
    case "agent": {
      const g = body.agent;
      put(f, "AgentEventKind", g.kind);
      put(f, "Message", g.message);
      for (const [k, v] of Object.entries(g.attributes)) f[`Attr_${k}`] = v;
      return ev("vigil_agent");
    }
  }
}

/**
 * One audit event made of several records (SYSCALL, EXECVE, CWD, PATH, PROCTITLE...), as one
 * Sigma record: `type` is the list of its record types and every field keeps its name, so SigmaHQ
 * auditd rules written per record (`type: EXECVE` + `a0..aN`, `type: SYSCALL` + `exe`/`comm`/`key`,
 * `type: PATH` + `name`) match as they did on the records one by one (a list matches when one of
 * its values does). A field two records both carry (two PATHs' `name`) holds both values.
 * SYSCALL's `a0..a3` are the raw syscall arguments (pointers, for execve): with an EXECVE record,
 * `aN` are the command's arguments only, as rules on EXECVE expect.
 */
function mergedAuditFields(records: Array<{ recordType: string; fields: Record<string, string> }>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const hasExecve = records.some((r) => r.recordType === "EXECVE");
  const types: string[] = [];
  for (const r of records) {
    if (!types.includes(r.recordType)) types.push(r.recordType);
    const argv = r.recordType === "EXECVE";
    for (const [k, v] of Object.entries(r.fields)) {
      if (hasExecve && !argv && /^a\d+$/.test(k)) continue;
      const cur = out[k];
      if (cur === undefined) out[k] = v;
      else if (Array.isArray(cur)) {
        if (!cur.includes(v)) cur.push(v);
      } else if (cur !== v) out[k] = [cur, v];
    }
  }
  out.type = types.length === 1 ? types[0] : types;
  return out;
}

/**
 * Public Linux rules written against parsed auth logs use the field names of the parser their
 * author had (sudo's own USER=/COMMAND=/TTY=, PAM's pam_user/pam_rhost, SIEM-style user_name and
 * client_ip). They are aliases of Vigil's fields; docs/sigma-support.md lists them.
 */
function authAliases(f: Record<string, unknown>, a: AuthEvent): void {
  put(f, "user_name", a.user);
  put(f, "client_ip", a.sourceIp);
  put(f, "deviceProcessName", a.service);
  put(f, "host", a.hostname);
  if (a.service === "sudo") {
    put(f, "USER", a.targetUser);
    put(f, "COMMAND", a.command);
    put(f, "TTY", a.tty);
  }
  if (a.method.startsWith("pam_")) {
    put(f, "pam_user", a.user);
    put(f, "pam_rhost", a.sourceIp);
    if (a.action === AuthAction.AUTH_ACTION_LOGIN_FAILURE || a.action === AuthAction.AUTH_ACTION_SU_FAILURE || a.action === AuthAction.AUTH_ACTION_SUDO_FAILURE)
      put(f, "pam_message", "authentication failure");
  }
}

/**
 * The Sigma service of a system-log line, from the program that wrote it: public rules name
 * daemons by their package (clamav for clamd and freshclam, guacamole for guacd); anything
 * else goes by its own lower-cased name. Rules with `service: syslog` see every line.
 */
const SYSLOG_SERVICES: Record<string, string> = {
  cron: "cron",
  crond: "cron",
  anacron: "cron",
  clamd: "clamav",
  freshclam: "clamav",
  clamscan: "clamav",
  "clamav-daemon": "clamav",
  guacd: "guacamole",
  "dbus-daemon": "dbus",
  "dbus-broker": "dbus",
  "systemd-journald": "journald",
};

function syslogService(program: string): string {
  const p = program.toLowerCase();
  return SYSLOG_SERVICES[p] ?? (p || "syslog");
}
