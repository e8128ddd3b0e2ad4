import { ProcessAction, redactVigilSecrets, type AuditEvent, type ProcessEvent } from "@vigil/proto";
import type { CgroupFacts } from "../../platform/linux/cgroup-layout";
import { cgroupFields } from "../process/cgroup-fields";

/** The key Vigil's own execve rule carries, so its records are told apart from the host's rules. */
export const VIGIL_EXEC_KEY = "vigil-exec";

/** execve and execveat on the architectures auditd names by AUDIT_ARCH_* (x86_64, aarch64). */
const EXEC_SYSCALLS: Record<string, ReadonlySet<string>> = {
  c000003e: new Set(["59", "322"]), // x86_64
  c00000b7: new Set(["221", "281"]), // aarch64
  "40000003": new Set(["11", "358"]), // i386 (32-bit programs on x86_64)
};

/** Arguments joined into the command line at most (the same order of bound as the eBPF helper's). */
export const MAX_AUDIT_ARGS = 128;

/** What the exec record holds; the sensor adds user name, parent, start time and hash. */
export interface AuditExec {
  pid: number;
  ppid: number;
  uid: number;
  euid: number;
  exe: string;
  argv: string[];
  cwd: string;
  comm: string;
  /** The Vigil key was on the record (false: a host rule saw it). */
  vigilRule: boolean;
}

/**
 * One successful exec out of the records auditd wrote for it (SYSCALL, EXECVE, CWD, PATH,
 * PROCTITLE, joined per serial by AuditAssembler); null for any other audit event. Field values
 * come from the log and are bounded by the parser; numbers that do not parse make it null.
 */
export function auditExec(event: AuditEvent): AuditExec | null {
  if (event.recordType !== "SYSCALL") return null;
  const f = event.fields;
  if (f.success !== "yes" || !EXEC_SYSCALLS[(f.arch ?? "").toLowerCase()]?.has(f.syscall ?? "")) return null;
  const pid = int(f.pid);
  const ppid = int(f.ppid);
  if (pid === undefined || ppid === undefined) return null;
  const execve = event.records.find((r) => r.recordType === "EXECVE")?.fields;
  const argv: string[] = [];
  if (execve) {
    const argc = Math.min(int(execve.argc) ?? 0, MAX_AUDIT_ARGS);
    for (let i = 0; i < argc; i++) {
      const a = execve[`a${i}`];
      if (a === undefined) break; // beyond the parser's field bound
      argv.push(a);
    }
  }
  // Without EXECVE (a host rule that filters it out) the title is the next best command line.
  if (argv.length === 0) {
    const title = event.records.find((r) => r.recordType === "PROCTITLE")?.fields.proctitle;
    if (title) argv.push(title);
  }
  return {
    pid,
    ppid,
    uid: int(f.uid) ?? -1,
    euid: int(f.euid) ?? -1,
    exe: f.exe ?? "",
    argv,
    cwd: event.records.find((r) => r.recordType === "CWD")?.fields.cwd ?? "",
    comm: f.comm ?? "",
    vigilRule: f.key === VIGIL_EXEC_KEY,
  };
}

/** The START event in the shape the eBPF sensor emits, with what only the sensor knows passed in. */
export function auditProcessStart(e: AuditExec, known: { user: string; startTimeMs: number; parentExe: string; parentCommandLine: string; sha256: string; cgroup?: CgroupFacts }): ProcessEvent {
  return {
    action: ProcessAction.PROCESS_ACTION_START,
    pid: e.pid,
    ppid: e.ppid,
    exe: e.exe,
    // Vigil's own secrets (a token typed on a command line) never enter an event.
    commandLine: redactVigilSecrets(e.argv.length > 0 ? e.argv.join(" ") : e.exe),
    user: known.user,
    uid: Math.max(e.uid, 0),
    cwd: e.cwd,
    startTimeMs: known.startTimeMs,
    sha256: known.sha256,
    parentExe: known.parentExe,
    parentCommandLine: known.parentCommandLine,
    name: e.comm,
    exeDeleted: false,
    exitCode: 0,
    euid: Math.max(e.euid, 0),
    durationMs: 0,
    cgroupId: 0,
    source: "audit",
    ...cgroupFields(known.cgroup),
  };
}

function int(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,10}$/.test(v)) return undefined;
  const n = Number(v);
  return n <= 0xffffffff ? n : undefined;
}
