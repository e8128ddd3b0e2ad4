import type { ProcessEvent } from "@vigil/proto";
import { describeProcCgroup, NO_CGROUP, type CgroupFacts } from "../../platform/linux/cgroup-layout";
import type { Procfs } from "../../platform/linux/procfs";

export type CgroupEventFields = Pick<ProcessEvent, "cgroupPath" | "containerId" | "containerRuntime" | "podUid" | "systemdUnit">;

/** A process event's cgroup fields; all empty when nothing is known. */
export function cgroupFields(f: CgroupFacts = NO_CGROUP): CgroupEventFields {
  return { cgroupPath: f.path, containerId: f.containerId, containerRuntime: f.containerRuntime, podUid: f.podUid, systemdUnit: f.systemdUnit };
}

/** What /proc/<pid>/cgroup says, while the process lives (the polling and audit sensors have no cgroup id). */
export function procCgroup(procfs: Procfs, pid: number): CgroupFacts {
  const text = procfs.cgroup(pid);
  return text === undefined ? NO_CGROUP : describeProcCgroup(text);
}
