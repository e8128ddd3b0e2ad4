import { type ProcStat, isGone, readProcStat, snapshot, startTimeMs } from "../platform/linux/processes";
import { waitUntil } from "./wait";

export interface KillTarget {
  pid: number;
  /** Expected start (epoch ms, as process events report it); a mismatch means the pid was recycled. */
  startTimeMs?: number;
  /** Exact expected start in clock ticks since boot (/proc/PID/stat field 22); preferred when known. */
  startTicks?: number;
  /** Kill the process and all its descendants. */
  tree: boolean;
}

export interface KilledProcess {
  pid: number;
  comm: string;
  startTicks: number;
}

export type KillOutcome = { ok: true; killed: KilledProcess[] } | { ok: false; reason: string; killed?: KilledProcess[] };

export interface KillOptions {
  /** Pids that must never be signalled (the agent itself; its supervisor if any). */
  protectedPids: readonly number[];
  /** btime has one-second resolution and can shift when the clock is stepped. */
  startToleranceMs?: number;
  /** How long to wait for the kernel to tear the processes down. */
  waitMs?: number;
}

/** Whether `stat` is the process the caller meant, not a later one that got the same pid. */
export function matchesIdentity(stat: ProcStat, t: Pick<KillTarget, "startTimeMs" | "startTicks">, toleranceMs: number): boolean {
  if (t.startTicks !== undefined) return stat.startTicks === t.startTicks;
  if (t.startTimeMs !== undefined) return Math.abs(startTimeMs(stat) - t.startTimeMs) <= toleranceMs;
  return false;
}

/** Signals only if the pid still belongs to the same process (same start ticks). */
function signalSame(p: KilledProcess, sig: NodeJS.Signals): boolean {
  const now = readProcStat(p.pid);
  if (!now || now.startTicks !== p.startTicks) return false;
  try {
    process.kill(p.pid, sig);
    return true;
  } catch {
    return false;
  }
}

/**
 * Kills a process, or a whole tree: every member is first stopped (SIGSTOP), so no
 * parent can fork or respawn a child while we work, then killed (SIGKILL). Every
 * signal is preceded by a start-time check so a pid reused in between is left alone.
 * Limitation: a descendant that double-forked away (reparented to init) before the
 * command arrived is no longer part of the tree and is not found.
 */
export async function killProcess(target: KillTarget, opts: KillOptions): Promise<KillOutcome> {
  const tolerance = opts.startToleranceMs ?? 1000;
  if (target.pid <= 1) return { ok: false, reason: `refusing to kill pid ${target.pid}` };
  if (target.startTicks === undefined && target.startTimeMs === undefined) return { ok: false, reason: "a start time is required to identify the process" };
  const root = readProcStat(target.pid);
  if (!root) return { ok: false, reason: `no process ${target.pid}` };
  if (!matchesIdentity(root, target, tolerance)) return { ok: false, reason: `pid ${target.pid} now belongs to another process (start time mismatch): not killed` };
  if (root.pid === 2 || root.ppid === 2) return { ok: false, reason: `pid ${target.pid} is a kernel thread` };

  const members = new Map<number, KilledProcess>([[root.pid, { pid: root.pid, comm: root.comm, startTicks: root.startTicks }]]);
  if (target.tree) {
    // Check the whole tree for protected pids before any signal, so a refused
    // command leaves every process exactly as it was.
    for (const p of descendants(snapshot(), root)) members.set(p.pid, p);
  }
  for (const p of members.values()) if (opts.protectedPids.includes(p.pid)) return { ok: false, reason: `process tree contains protected pid ${p.pid} (the agent)` };

  if (target.tree) {
    // Freeze to a fixed point: stop what we know, then look again for children forked meanwhile.
    for (let round = 0; round < 50; round++) {
      for (const p of members.values()) signalSame(p, "SIGSTOP");
      let grew = false;
      for (const p of descendants(snapshot(), root)) {
        if (members.has(p.pid) || opts.protectedPids.includes(p.pid)) continue;
        members.set(p.pid, p);
        grew = true;
      }
      if (!grew) break;
    }
  }

  const killed = [...members.values()].filter((p) => signalSame(p, "SIGKILL"));
  const gone = await waitUntil(() => killed.every((p) => isGone(p.pid, p.startTicks)), opts.waitMs ?? 3000);
  if (!gone) return { ok: false, reason: "processes still present after SIGKILL (uninterruptible sleep?)", killed };
  if (killed.length === 0) return { ok: false, reason: `pid ${target.pid} exited before it could be killed`, killed };
  return { ok: true, killed };
}

/** Every descendant of `root` in a snapshot, skipping links where a parent pid was reused. */
function descendants(all: Map<number, ProcStat>, root: ProcStat): KilledProcess[] {
  const children = new Map<number, ProcStat[]>();
  for (const s of all.values()) {
    const list = children.get(s.ppid);
    if (list) list.push(s);
    else children.set(s.ppid, [s]);
  }
  const out: KilledProcess[] = [];
  const queue: ProcStat[] = [root];
  const seen = new Set<number>([root.pid]);
  while (queue.length) {
    const parent = queue.shift() as ProcStat;
    for (const c of children.get(parent.pid) ?? []) {
      // A child cannot be older than its parent; if it is, its ppid points at a recycled pid.
      if (seen.has(c.pid) || c.startTicks < parent.startTicks) continue;
      seen.add(c.pid);
      out.push({ pid: c.pid, comm: c.comm, startTicks: c.startTicks });
      queue.push(c);
    }
  }
  return out;
}
