import { redactVigilSecrets } from "@vigil/proto";
import { CLOCK_TICKS_PER_SECOND, Procfs, type ProcStat } from "./procfs";

export type { ProcStat } from "./procfs";

/*
 * Process lookups over the host's own /proc for enforcement and evidence (kill, session
 * termination, process lists). They share the Procfs reader with the sensors, so /proc is
 * parsed in one place; these add the host-wide defaults and the "undefined when gone" shape
 * enforcement code checks for.
 */

const host = new Procfs();

/** Parses /proc/PID/stat; undefined when the process is gone. */
export function readProcStat(pid: number): ProcStat | undefined {
  return host.stat(pid);
}

let bootMs: number | undefined;

/** Boot time from /proc/stat btime (whole seconds), cached: it is fixed for the boot. */
export function bootTimeMs(): number {
  if (bootMs === undefined) {
    const ms = host.bootTimeMs();
    if (ms === undefined) throw new Error("/proc/stat has no btime");
    bootMs = ms;
  }
  return bootMs;
}

/** Wall-clock start of a process in epoch ms, as the process sensor reports it. */
export function startTimeMs(stat: ProcStat): number {
  return bootTimeMs() + (stat.startTicks * 1000) / CLOCK_TICKS_PER_SECOND;
}

export function listPids(): number[] {
  return host.listPids();
}

/** A snapshot of every process's stat, for tree walks. */
export function snapshot(): Map<number, ProcStat> {
  const all = new Map<number, ProcStat>();
  for (const pid of host.listPids()) {
    const s = host.stat(pid);
    if (s) all.set(pid, s);
  }
  return all;
}

/** Real uid of a process (first field of the Uid: line): who started it, whatever it setuid to. */
export function processUid(pid: number): number | undefined {
  return host.uid(pid, "real");
}

export function processExe(pid: number): string | undefined {
  return host.readLink(pid, "exe");
}

/** The command line as evidence records it: Vigil's own secrets (tokens, API keys) redacted. */
export function processCmdline(pid: number, maxBytes = 4096): string | undefined {
  const text = host.readCmdline(pid, maxBytes);
  return text === undefined ? undefined : redactVigilSecrets(text);
}

/** A process is gone for our purposes once it no longer exists or is a zombie (it runs nothing). */
export function isGone(pid: number, startTicks: number): boolean {
  const s = host.stat(pid);
  return s === undefined || s.startTicks !== startTicks || s.state === "Z" || s.state === "X";
}
