import { ProcessAction, redactVigilSecrets, type ProcessEvent } from "@vigil/proto";
import { FileHasher } from "../../platform/linux/file-hasher";
import { CLOCK_TICKS_PER_SECOND, Procfs } from "../../platform/linux/procfs";
import { UserNames } from "../../platform/linux/users";
import { commandLineOf, startTimeMs } from "../process/process-record";
import { SensorCounters, type EventSink, type Sensor, type SensorHealth } from "../sensor";
import type { EbpfHelper } from "./ebpf-helper";
import { ProcessTable, type ProcInfo } from "./process-table";
import type { EbpfRecord, TaskHead } from "./records";
import { hashExecutedImage } from "../process/image-hash";
import { CgroupDirectory } from "../../platform/linux/cgroup-directory";
import { NO_CGROUP, type CgroupFacts } from "../../platform/linux/cgroup-layout";
import { cgroupFields, procCgroup } from "../process/cgroup-fields";

export interface EbpfProcessSensorOptions {
  procRoot?: string;
  passwdPath?: string;
  hasher?: FileHasher;
  /** Longest wait for an executable's hash before START goes out without it. Default 2000 ms. */
  hashWaitMs?: number;
  /** Names the kernel's cgroup ids (container, pod, unit); default: the host's cgroup2 mount. */
  cgroups?: CgroupDirectory;
}

const NS_PER_TICK = 1e9 / CLOCK_TICKS_PER_SECOND;
/** How long placeOf leaves a cgroup id it could not name before it reads /proc for it again. */
const PLACE_RETRY_MS = 1000;
/** Unnamed cgroup ids placeOf remembers at most; past it, new ones get the process table's word only. */
const MAX_PLACE_TRIES = 1024;

/** Exit status as a shell reports it: the code, or 128 + the signal that killed it. */
export function exitCodeOf(status: number): number {
  const signal = status & 0x7f;
  return signal !== 0 ? 128 + signal : (status >> 8) & 0xff;
}

/**
 * Every exec and exit, from the kernel's sched tracepoints through the eBPF helper: a process that
 * lives a millisecond is reported with its argv, parent and user, which /proc polling cannot do.
 * Start times are derived exactly as /proc derives them (clock ticks since boot), so a kill command
 * built from this event names the same process identity the enforcement side checks.
 */
export class EbpfProcessSensor implements Sensor {
  readonly name = "process";
  private readonly counters = new SensorCounters();
  private readonly procfs: Procfs;
  private readonly users: UserNames;
  private readonly hasher: FileHasher;
  private readonly hashWaitMs: number;
  readonly cgroups: CgroupDirectory;
  readonly table = new ProcessTable();
  /** Per pid: settles once START went out, so EXIT never overtakes it. */
  private readonly started = new Map<number, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  private sink: EventSink | undefined;
  private bootTimeMs = 0;
  private unsubscribe: (() => void) | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Cgroup ids placeOf did not find in the cache: when it last read /proc for each. */
  private readonly placeTries = new Map<bigint, number>();

  constructor(
    private readonly helper: EbpfHelper,
    options: EbpfProcessSensorOptions = {},
  ) {
    this.procfs = new Procfs(options.procRoot);
    this.users = new UserNames(options.passwdPath);
    this.hasher = options.hasher ?? new FileHasher();
    this.hashWaitMs = options.hashWaitMs ?? 2000;
    this.cgroups = options.cgroups ?? new CgroupDirectory({ procRoot: options.procRoot });
  }

  /** Resolves with "" when the kernel feed runs, else the reason it cannot (the caller falls back). */
  async start(sink: EventSink): Promise<void> {
    const boot = this.procfs.bootTimeMs();
    if (boot === undefined) {
      this.counters.detail = `cannot read ${this.procfs.root}/stat`;
      return;
    }
    this.bootTimeMs = boot;
    const problem = await this.helper.start();
    if (problem !== undefined) {
      this.counters.detail = `eBPF unavailable: ${problem}`;
      return;
    }
    this.sink = sink;
    this.table.seed(this.procfs, (ticks) => startTimeMs(this.bootTimeMs, ticks));
    this.unsubscribe = this.helper.subscribe((r) => this.onRecord(r));
    this.sweepTimer = setInterval(() => this.table.sweep(Date.now()), 1000);
    this.sweepTimer.unref();
    this.counters.running = true;
  }

  async stop(): Promise<void> {
    this.counters.running = false;
    this.unsubscribe?.();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.allSettled([...this.pending]);
    this.sink = undefined;
  }

  health(): SensorHealth {
    const h = this.counters.snapshot(this.name);
    if (!h.running) return h;
    const s = this.helper.stats;
    const state = this.helper.status ? `; ${this.helper.status}` : "";
    const c = this.cgroups.stats;
    const cgroups =
      this.cgroups.root === null
        ? "no cgroup2 mount: cgroups read from /proc while the process lives"
        : `cgroups: ${c.entries} known, ${c.walks} walks${c.truncated ? " (cut at the bound)" : ""}, ${c.unresolved} unnamed`;
    return { ...h, detail: `source: ebpf (${s.programs} tracepoints), kernel drops ${s.kernelDrops}; ${cgroups}${state}` };
  }

  /** The process behind a pid in a kernel record: itself, or its parent for a fork that never exec'd. */
  actor(task: TaskHead): ProcInfo | undefined {
    return this.table.get(task.pid) ?? this.table.get(task.ppid);
  }

  /**
   * Where the process behind a kernel record runs, for its file, network and DNS events: the cgroup
   * the record itself names (the kernel's id, at the time of the event) as the cache knows it, else
   * what the process table says of the actor. For a process in a known cgroup both are Map lookups:
   * no syscall per event. An id the cache does not know (a process running since before the
   * agent, whose cgroup no exec has named since; one moved to another cgroup after its exec) is
   * named from the process's /proc entry, as an exec's is (then cached); failing that (the process
   * is gone), a walk is asked for (rate-limited like an exec's) and /proc is not read for that id
   * again within a second.
   */
  placeOf(task: TaskHead): CgroupFacts {
    if (this.cgroups.root !== null) {
      const id = task.cgroupId;
      const named = this.cgroups.lookup(id);
      if (named) return named;
      if (id !== 0n && this.mayLookFor(id)) {
        const now = this.cgroups.nameFromProcess(id, task.pid);
        if (now) {
          this.placeTries.delete(id);
          return now;
        }
        void this.cgroups.resolve(id).catch(() => undefined);
      }
    }
    const actor = this.actor(task);
    // The table's word only when it describes the cgroup the record names (or the id is unknown: seeded from /proc).
    if (actor?.cgroup && (actor.cgroupId === undefined || actor.cgroupId === task.cgroupId || this.cgroups.root === null)) return actor.cgroup;
    return NO_CGROUP;
  }

  /** At most one /proc read per unnamed cgroup id per PLACE_RETRY_MS, for at most MAX_PLACE_TRIES ids. */
  private mayLookFor(id: bigint): boolean {
    const now = Date.now();
    const at = this.placeTries.get(id);
    if (at !== undefined && now - at < PLACE_RETRY_MS) return false;
    if (at === undefined && this.placeTries.size >= MAX_PLACE_TRIES) {
      for (const [k, t] of this.placeTries) if (now - t >= PLACE_RETRY_MS) this.placeTries.delete(k);
      if (this.placeTries.size >= MAX_PLACE_TRIES) return false;
    }
    this.placeTries.set(id, now);
    return true;
  }

  wallMs(bootNs: number): number {
    return this.bootTimeMs + Math.round(bootNs / 1e6);
  }

  private onRecord(r: EbpfRecord): void {
    if (r.kind === "exec") this.exec(r);
    else if (r.kind === "exit") this.exit(r.task, r.status);
    else if (r.kind === "fork") this.fork(r);
  }

  private exec(r: Extract<EbpfRecord, { kind: "exec" }>): void {
    const t = r.task;
    const exe = r.filename.startsWith("/") ? r.filename : (this.procfs.identity(t.pid)?.exe ?? r.filename);
    // Vigil's own secrets (a token or API key typed on a command line) never enter an event.
    const commandLine = redactVigilSecrets(r.argv.length > 0 ? r.argv.join(" ") : exe);
    const parent = this.table.get(t.ppid) ?? this.forkedParent(t.ppid);
    const info: ProcInfo = {
      pid: t.pid,
      ppid: t.ppid,
      exe,
      commandLine,
      uid: t.uid,
      startTimeMs: startTimeMs(this.bootTimeMs, Math.floor(t.startNs / NS_PER_TICK)),
    };
    this.table.set(info);
    const body: ProcessEvent = {
      action: ProcessAction.PROCESS_ACTION_START,
      pid: t.pid,
      ppid: t.ppid,
      exe,
      commandLine,
      user: this.users.name(t.uid),
      uid: t.uid,
      // From the kernel's dentries; /proc only when the walk did not fit (a 1 ms process is gone by then).
      cwd: r.cwd ?? this.procfs.cwd(t.pid),
      startTimeMs: info.startTimeMs,
      sha256: "",
      parentExe: parent?.exe ?? "",
      parentCommandLine: parent?.commandLine ?? "",
      name: t.comm,
      exeDeleted: false,
      exitCode: 0,
      euid: t.euid,
      durationMs: 0,
      cgroupId: Number(t.cgroupId),
      source: "ebpf",
      ...cgroupFields(),
    };
    const eventMs = this.wallMs(t.tsNs);
    // Kept in the table as soon as it is named (not after the hash): the process's file, network and DNS events read it.
    const cgroup = Promise.resolve(this.cgroupOf(t)).then((facts) => {
      info.cgroup = facts;
      info.cgroupId = t.cgroupId;
      return facts;
    });
    const done = this.track(
      Promise.all([this.hashOf(t.pid, exe), cgroup]).then(([sha256, facts]) => {
        body.sha256 = sha256;
        Object.assign(body, cgroupFields(facts));
        this.emit(body, eventMs);
      }),
    );
    this.started.set(t.pid, done);
    // Once START is out, EXIT has nothing to wait for: forget it, so lost exit records cannot pile up.
    void done.then(() => {
      if (this.started.get(t.pid) === done) this.started.delete(t.pid);
    });
  }

  private exit(t: TaskHead, status: number): void {
    const info = this.table.exited(t.pid, Date.now());
    // A fork that never exec'd is not reported as a process of its own: its parent's image is it.
    if (!info || info.forked) return;
    const before = this.started.get(t.pid) ?? Promise.resolve();
    this.started.delete(t.pid);
    const eventMs = this.wallMs(t.tsNs);
    const body: ProcessEvent = {
      action: ProcessAction.PROCESS_ACTION_EXIT,
      pid: info.pid,
      ppid: info.ppid,
      exe: info.exe,
      commandLine: info.commandLine,
      user: info.uid >= 0 ? this.users.name(info.uid) : "",
      uid: Math.max(info.uid, 0),
      cwd: "",
      startTimeMs: info.startTimeMs,
      sha256: "",
      parentExe: this.table.get(info.ppid)?.exe ?? "",
      parentCommandLine: this.table.get(info.ppid)?.commandLine ?? "",
      name: t.comm,
      exeDeleted: false,
      exitCode: exitCodeOf(status),
      euid: t.euid,
      // Both ends by the kernel's boot clock, from the exit record itself: startTimeMs is in /proc's 10 ms ticks.
      durationMs: Math.max(0, Math.round((t.tsNs - t.startNs) / 1e6)),
      cgroupId: Number(t.cgroupId),
      source: "ebpf",
      ...cgroupFields(),
    };
    // Fire and forget: track() counts a failure and keeps the promise for stop() to wait on.
    void this.track(
      before.then(() => {
        // Named when its START went out (which this waited for); for one seeded from /proc, the cache's word if any.
        Object.assign(body, cgroupFields(info.cgroup ?? this.cgroups.lookup(t.cgroupId)));
        this.emit(body, eventMs);
      }),
    );
  }

  /**
   * A new process runs its parent's image until it execs: a subshell or a worker that never does is
   * known by this entry (marked forked: its exit is not reported), so its children name their parent.
   */
  private fork(r: Extract<EbpfRecord, { kind: "fork" }>): void {
    const parent = this.table.get(r.ppid);
    if (!parent) return;
    this.table.set({ ...parent, pid: r.pid, ppid: r.ppid, startTimeMs: startTimeMs(this.bootTimeMs, Math.floor(r.startNs / NS_PER_TICK)), exitedAtMs: undefined, forked: true });
  }

  /**
   * A parent no exec record named: a fork that never exec'd (a shell's subshell, a daemon's worker)
   * started after the /proc seed. It runs its parent's image with its parent's command line, which
   * /proc still shows while it waits for the child; kept in the table (marked forked, so its exit is
   * not reported) for its other children.
   */
  private forkedParent(pid: number): ProcInfo | undefined {
    const stat = this.procfs.stat(pid);
    const identity = this.procfs.identity(pid);
    if (!stat || !identity) return undefined;
    const info: ProcInfo = {
      pid,
      ppid: stat.ppid,
      exe: identity.exe,
      commandLine: commandLineOf(this.procfs, pid),
      uid: identity.uid,
      startTimeMs: startTimeMs(this.bootTimeMs, stat.startTicks),
      forked: true,
    };
    this.table.set(info);
    return info;
  }

  /** Cached after the first process of a cgroup: a Map lookup; else named now, while it or its parent may live. */
  private cgroupOf(t: TaskHead): CgroupFacts | Promise<CgroupFacts> {
    // No cgroup2 mount (a v1-only host): the kernel's id names nothing; /proc does while the process lives.
    if (this.cgroups.root === null) return procCgroup(this.procfs, t.pid);
    return this.cgroups.lookup(t.cgroupId) ?? this.cgroups.resolve(t.cgroupId, [t.pid, t.ppid]);
  }

  private hashOf(pid: number, exe: string): Promise<string> {
    return hashExecutedImage(this.hasher, this.procfs, pid, exe, this.hashWaitMs);
  }

  private emit(body: ProcessEvent, eventMs: number): void {
    const sink = this.sink;
    if (!sink) return;
    try {
      sink.emit({ $case: "process", process: body }, eventMs);
      this.counters.events++;
    } catch (err) {
      this.counters.errors++;
      this.counters.detail = `emit failed: ${(err as Error).message}`;
    }
  }

  private track(p: Promise<void>): Promise<void> {
    const guarded = p.catch((err: unknown) => {
      this.counters.errors++;
      this.counters.detail = `process event failed: ${(err as Error).message}`;
    });
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
    return guarded;
  }
}
