import { isKernelThread, type ProcStat, type Procfs } from "../../platform/linux/procfs";

/** (pid, start time) names one process: a reused pid gets a new start time and so a new key. */
export function processKey(stat: Pick<ProcStat, "pid" | "startTicks">): string {
  return `${stat.pid}:${stat.startTicks}`;
}

/**
 * The cheap part of a cycle: one read of /proc/pid/stat per process gives the
 * pid, start time, ppid and comm. Kernel threads are left out.
 */
export function takeSnapshot(procfs: Procfs): Map<string, ProcStat> {
  const snap = new Map<string, ProcStat>();
  for (const pid of procfs.listPids()) {
    const stat = procfs.stat(pid);
    if (stat === undefined || isKernelThread(stat)) continue;
    snap.set(processKey(stat), stat);
  }
  return snap;
}

export interface SnapshotDiff {
  started: ProcStat[];
  exited: string[];
}

export function diffSnapshot(known: ReadonlyMap<string, unknown>, next: ReadonlyMap<string, ProcStat>): SnapshotDiff {
  const started: ProcStat[] = [];
  for (const [key, stat] of next) if (!known.has(key)) started.push(stat);
  const exited: string[] = [];
  for (const key of known.keys()) if (!next.has(key)) exited.push(key);
  return { started, exited };
}
