import { redactVigilSecrets } from "@vigil/proto";
import type { ProcStat, Procfs } from "../../platform/linux/procfs";
import { CLOCK_TICKS_PER_SECOND } from "../../platform/linux/procfs";
import type { UserNames } from "../../platform/linux/users";
import type { CgroupFacts } from "../../platform/linux/cgroup-layout";
import { procCgroup } from "./cgroup-fields";

/** What the sensor remembers about a live process; the source of its START and EXIT events. */
export interface ProcessRecord {
  key: string;
  pid: number;
  ppid: number;
  name: string;
  exe: string;
  exeDeleted: boolean;
  commandLine: string;
  cwd: string;
  uid: number;
  user: string;
  startTimeMs: number;
  sha256: string;
  parentExe: string;
  parentCommandLine: string;
  /** From /proc/<pid>/cgroup: container, pod, unit. */
  cgroup: CgroupFacts;
}

export function startTimeMs(bootTimeMs: number, startTicks: number): number {
  return bootTimeMs + Math.round((startTicks * 1000) / CLOCK_TICKS_PER_SECOND);
}

/**
 * The expensive part, done once per new process: exe link, status, cmdline,
 * cwd and cgroup. A process that exits meanwhile still yields a record with what its
 * stat line gave (pid, ppid, comm, start time).
 */
export function readProcessRecord(procfs: Procfs, users: UserNames, stat: ProcStat, key: string, bootTimeMs: number): ProcessRecord {
  const identity = procfs.identity(stat.pid);
  const uid = identity?.uid ?? -1;
  return {
    key,
    pid: stat.pid,
    ppid: stat.ppid,
    name: stat.comm,
    exe: identity?.exe ?? "",
    exeDeleted: identity?.exeDeleted ?? false,
    commandLine: commandLineOf(procfs, stat.pid),
    cwd: procfs.cwd(stat.pid),
    uid: uid < 0 ? 0 : uid,
    user: uid < 0 ? "" : users.name(uid),
    startTimeMs: startTimeMs(bootTimeMs, stat.startTicks),
    sha256: "",
    parentExe: "",
    parentCommandLine: "",
    cgroup: procCgroup(procfs, stat.pid),
  };
}

/**
 * The command line as recorded: Vigil's own secrets (an enrollment token or API key typed on a
 * command line) are redacted here, before the event exists, so they never reach the spool.
 */
export function commandLineOf(procfs: Procfs, pid: number): string {
  return redactVigilSecrets(procfs.cmdline(pid));
}
