import { readdirSync, readFileSync } from "node:fs";

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

/** CPU seconds used so far, per process (with its group) and for the whole machine. */
export interface CpuTotals {
  byPid: Map<number, { label: string; seconds: number }>;
  machine: number;
}

function cpuSeconds(pid: string): { comm: string; seconds: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm is in parentheses and may itself hold spaces or ')': the fields after it start past the last ')'.
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const f = stat.slice(close + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after "pid (comm)".
    return { comm, seconds: (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND };
  } catch {
    return undefined; // the process ended between the listing and the read
  }
}

/**
 * Reads every process's CPU time with its group: `replicas` (pid → label), PostgreSQL's
 * backends, nats-server, everything else; and the machine's busy time. Two readings apart give
 * each group's share of the cores in between (cpuShares).
 */
export function readCpuTotals(replicas: Map<number, string>): CpuTotals {
  const byPid = new Map<number, { label: string; seconds: number }>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const c = cpuSeconds(pid);
    if (!c) continue;
    const label = replicas.get(Number(pid)) ?? (c.comm === "postgres" ? "postgres" : c.comm === "nats-server" ? "nats" : "other");
    byPid.set(Number(pid), { label, seconds: c.seconds });
  }
  // All CPUs' busy time (/proc/stat: everything but idle and iowait), to tell a saturated machine from idle cores.
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { byPid, machine: (cpu.reduce((a, b) => a + b, 0) - cpu[3]! - cpu[4]!) / TICKS_PER_SECOND };
}

/**
 * "replica 1 0.41, …, postgres 0.52, nats 0.20, other 0.05, machine 1.95": cores used between two
 * readings `seconds` apart. Per process, so one that ended in between takes nothing away (its
 * time in between is lost; one that started counts from zero).
 */
export function cpuShares(before: CpuTotals, after: CpuTotals, seconds: number): string {
  const groups = new Map<string, number>();
  for (const [pid, a] of after.byPid) groups.set(a.label, (groups.get(a.label) ?? 0) + a.seconds - (before.byPid.get(pid)?.seconds ?? 0));
  groups.set("machine", after.machine - before.machine);
  return [...groups]
    .map(([k, v]) => [k, v / seconds] as const)
    .filter(([, cores]) => cores >= 0.005)
    .map(([k, cores]) => `${k} ${cores.toFixed(2)}`)
    .join(", ");
}
