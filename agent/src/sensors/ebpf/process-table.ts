import { isKernelThread, type Procfs } from "../../platform/linux/procfs";
import type { CgroupFacts } from "../../platform/linux/cgroup-layout";
import { commandLineOf } from "../process/process-record";
import { procCgroup } from "../process/cgroup-fields";

/** What is known of a live process: enough to name it as somebody's parent or as the actor. */
export interface ProcInfo {
  pid: number;
  ppid: number;
  exe: string;
  commandLine: string;
  uid: number;
  startTimeMs: number;
  /** A fork that never exec'd, learnt from /proc when a child named it: not a process event of its own. */
  forked?: boolean;
  /** Where it runs (container, unit): named at its START, or read from /proc by the seed. */
  cgroup?: CgroupFacts;
  /** The kernel's id of the cgroup `cgroup` describes; unknown for a process seeded from /proc. */
  cgroupId?: bigint;
  /** Set when the process has exited; kept a moment for its children's records still in flight. */
  exitedAtMs?: number;
}

export interface ProcessTableOptions {
  /** Entries kept at most; the oldest exited ones go first, then the oldest. Default 65,536. */
  maxEntries?: number;
  /** How long an exited process stays known. Default 5000 ms. */
  linger?: number;
}

/**
 * The process tree as the kernel reported it: seeded once from /proc, then kept by exec and exit
 * records, so a child whose parent lived 2 ms still gets the parent's image and command line.
 * Bounded: a fork bomb cannot grow it past maxEntries.
 */
export class ProcessTable {
  private readonly byPid = new Map<number, ProcInfo>();
  private readonly maxEntries: number;
  private readonly linger: number;

  constructor(options: ProcessTableOptions = {}) {
    this.maxEntries = options.maxEntries ?? 65_536;
    this.linger = options.linger ?? 5000;
  }

  get size(): number {
    return this.byPid.size;
  }

  get(pid: number): ProcInfo | undefined {
    return this.byPid.get(pid);
  }

  /**
   * Processes running before the sensor started, read from /proc: with where each runs (one read of
   * /proc/<pid>/cgroup per process, here once), so their file, network and DNS events name it.
   */
  seed(procfs: Procfs, startTimeOf: (startTicks: number) => number): void {
    for (const pid of procfs.listPids()) {
      const stat = procfs.stat(pid);
      if (!stat || isKernelThread(stat)) continue;
      const identity = procfs.identity(pid);
      this.set({
        pid,
        ppid: stat.ppid,
        exe: identity?.exe ?? "",
        commandLine: commandLineOf(procfs, pid),
        uid: identity?.uid ?? -1,
        startTimeMs: startTimeOf(stat.startTicks),
        cgroup: procCgroup(procfs, pid),
      });
    }
  }

  set(info: ProcInfo): void {
    // Re-inserting moves it to the end, so iteration order is age order for eviction.
    this.byPid.delete(info.pid);
    this.byPid.set(info.pid, info);
    if (this.byPid.size > this.maxEntries) this.evict();
  }

  /** Marks an exit; the entry lingers for children whose records are still in flight. */
  exited(pid: number, nowMs: number): ProcInfo | undefined {
    const info = this.byPid.get(pid);
    if (info) info.exitedAtMs = nowMs;
    return info;
  }

  /** Forgets processes that exited longer than `linger` ago. */
  sweep(nowMs: number): void {
    for (const [pid, info] of this.byPid) {
      if (info.exitedAtMs !== undefined && nowMs - info.exitedAtMs > this.linger) this.byPid.delete(pid);
    }
  }

  private evict(): void {
    const over = this.byPid.size - this.maxEntries;
    let removed = 0;
    for (const [pid, info] of this.byPid) {
      if (removed >= over) return;
      if (info.exitedAtMs !== undefined) {
        this.byPid.delete(pid);
        removed++;
      }
    }
    for (const pid of this.byPid.keys()) {
      if (removed >= over) return;
      this.byPid.delete(pid);
      removed++;
    }
  }
}
