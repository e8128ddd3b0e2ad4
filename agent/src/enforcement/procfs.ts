import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { redactVigilSecrets } from "@vigil/proto";

/**
 * USER_HZ, the unit of /proc/PID/stat times. It is part of the kernel ABI and 100 on
 * every architecture Linux userspace runs on, so it is not looked up via sysconf.
 */
const CLK_TCK = 100;

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  /** Session id (field 6). */
  session: number;
  /** Controlling terminal device number (field 7), 0 if none. */
  ttyNr: number;
  /** Start time in clock ticks after boot (field 22): with the pid, a unique process identity. */
  startTicks: number;
}

/** Parses /proc/PID/stat; undefined when the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // comm may contain spaces and parentheses: it ends at the LAST ")".
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? "?",
    ppid: field(4),
    session: field(6),
    ttyNr: field(7),
    startTicks: field(22),
  };
}

let bootMs: number | undefined;

/** Boot time from /proc/stat btime (whole seconds), cached: it is fixed for the boot. */
export function bootTimeMs(): number {
  if (bootMs === undefined) {
    const m = /^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"));
    if (!m?.[1]) throw new Error("/proc/stat has no btime");
    bootMs = Number(m[1]) * 1000;
  }
  return bootMs;
}

/** Wall-clock start of a process in epoch ms, as the process sensor reports it. */
export function startTimeMs(stat: ProcStat): number {
  return bootTimeMs() + (stat.startTicks * 1000) / CLK_TCK;
}

export function listPids(): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** A snapshot of every process's stat, for tree walks. */
export function snapshot(): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  for (const pid of listPids()) {
    const s = readProcStat(pid);
    if (s) all.set(pid, s);
  }
  return all;
}

/** Real uid of a process (first field of the Uid: line). */
export function processUid(pid: number): number | undefined {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

export function processExe(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** The command line as evidence records it: Vigil's own secrets (tokens, API keys) redacted. */
export function processCmdline(pid: number, maxBytes = 4096): string | undefined {
  try {
    return redactVigilSecrets(readFileSync(`/proc/${pid}/cmdline`).subarray(0, maxBytes).toString("utf8").replace(/\0+$/, "").replace(/\0/g, " "));
  } catch {
    return undefined;
  }
}

/** A process is gone for our purposes once it no longer exists or is a zombie (it runs nothing). */
export function isGone(pid: number, startTicks: number): boolean {
  const s = readProcStat(pid);
  return s === undefined || s.startTicks !== startTicks || s.state === "Z" || s.state === "X";
}
