import { ProcessAction, type ProcessEvent } from "@vigil/proto";
import { FileHasher } from "../../platform/linux/file-hasher";
import { isKernelThread, Procfs, type ProcStat } from "../../platform/linux/procfs";
import { UserNames } from "../../platform/linux/users";
import { SensorCounters, type EventSink, type Sensor, type SensorHealth } from "../sensor";
import { commandLineOf, readProcessRecord, type ProcessRecord } from "./process-record";
import { cgroupFields } from "./cgroup-fields";
import { diffSnapshot, processKey, takeSnapshot } from "./snapshot";

export interface ProcessSensorOptions {
  /** Time between full snapshots (one stat read per process; catches pid reuse). Default 1000 ms. */
  intervalMs?: number;
  /**
   * Time between cheap scans in between: one readdir of /proc, stat only for
   * pids not seen before. Keeps detection latency low (containment is measured
   * from process start) at a fraction of a full snapshot's cost. Default 250 ms.
   */
  scanIntervalMs?: number;
  /** procfs mount; tests point this at a fake tree. Default "/proc". */
  procRoot?: string;
  passwdPath?: string;
  /** Emit START for processes already running at start. Default false: the first snapshot is the baseline. */
  emitInitial?: boolean;
  /** Longest wait for an executable's hash before START goes out without it. Default 2000 ms. */
  hashWaitMs?: number;
  /** Shared hasher (so the agent has one hashing queue and cache); one is created when absent. */
  hasher?: FileHasher;
}

/** How long after its start a process is re-read for an exec it had not done yet. */
const YOUNG_MS = 2000;

interface Tracked {
  record: ProcessRecord;
  /** Settles once START was emitted (or skipped), so EXIT never overtakes START. */
  started: Promise<void>;
}

/**
 * New and exited processes from diffed /proc snapshots. Polling sees a
 * process only if it lives across a snapshot: anything shorter than the
 * interval may be missed (an eBPF/netlink sensor would close that gap).
 */
export class ProcessSensor implements Sensor {
  readonly name = "process";
  private readonly counters = new SensorCounters();
  private readonly procfs: Procfs;
  private readonly users: UserNames;
  private readonly hasher: FileHasher;
  private readonly intervalMs: number;
  private readonly scanIntervalMs: number;
  private readonly hashWaitMs: number;
  /** Pids of kernel threads, so cheap scans do not stat them again and again. */
  private readonly ignoredPids = new Set<number>();
  private lastFullMs = 0;
  /**
   * Processes first seen in their first seconds, re-read on every pass: a
   * fork caught before its exec shows the parent's image (node, bash), and
   * without a second look the command it became (curl, a reverse shell)
   * would never be reported. key -> until (ms).
   */
  private readonly young = new Map<string, number>();
  private readonly tracked = new Map<string, Tracked>();
  /** pid -> key of the live process with that pid, to find parents. */
  private readonly byPid = new Map<number, string>();
  private readonly pending = new Set<Promise<void>>();
  private sink: EventSink | undefined;
  /** Standing limitation (e.g. not root), kept visible in health() next to the latest error. */
  private summary = "";
  private timer: NodeJS.Timeout | undefined;
  private bootTimeMs = 0;
  private lastCycleMs = 0;

  constructor(private readonly options: ProcessSensorOptions = {}) {
    this.procfs = new Procfs(options.procRoot);
    this.users = new UserNames(options.passwdPath);
    this.hasher = options.hasher ?? new FileHasher();
    this.intervalMs = options.intervalMs ?? 1000;
    this.scanIntervalMs = Math.min(options.scanIntervalMs ?? 250, this.intervalMs);
    this.hashWaitMs = options.hashWaitMs ?? 2000;
  }

  async start(sink: EventSink): Promise<void> {
    if (this.counters.running) return;
    const boot = this.procfs.bootTimeMs();
    if (boot === undefined) {
      this.fail(`cannot read ${this.procfs.root}/stat: process sensor disabled`);
      return;
    }
    this.bootTimeMs = boot;
    this.sink = sink;
    this.counters.running = true;
    if (process.getuid?.() !== 0) {
      this.summary = "not root: exe, cwd and hashes of other users' processes are unreadable";
    }
    this.counters.detail = this.summary;
    this.cycle(this.options.emitInitial ?? false);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.counters.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.pending]);
    this.sink = undefined;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
  }

  /** Processes currently tracked and the duration of the last snapshot, for footprint reports. */
  stats(): { tracked: number; lastCycleMs: number } {
    return { tracked: this.tracked.size, lastCycleMs: this.lastCycleMs };
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      if (!this.counters.running) return;
      try {
        if (Date.now() - this.lastFullMs >= this.intervalMs - this.scanIntervalMs / 2) this.cycle(true);
        else this.scan();
      } catch (err) {
        this.fail(`snapshot failed: ${(err as Error).message}`);
      }
      this.schedule();
    }, this.scanIntervalMs);
    // The sensor alone must not keep the process alive.
    this.timer.unref();
  }

  private cycle(emit: boolean): void {
    const t0 = performance.now();
    this.lastFullMs = Date.now();
    const next = takeSnapshot(this.procfs);
    const { started, exited } = diffSnapshot(this.tracked, next);
    for (const key of exited) this.exit(key);
    this.ignoredPids.clear();
    this.welcome(
      started.map((stat) => this.admit(stat)),
      emit,
    );
    this.lastCycleMs = performance.now() - t0;
  }

  /**
   * The cheap in-between pass: new pids are read, vanished pids exit. A pid
   * reused between two scans is caught by the next full snapshot.
   */
  private scan(): void {
    const pids = this.procfs.listPids();
    const live = new Set(pids);
    for (const [pid, key] of [...this.byPid]) if (!live.has(pid)) this.exit(key);
    for (const pid of this.ignoredPids) if (!live.has(pid)) this.ignoredPids.delete(pid);
    const stats: ProcStat[] = [];
    for (const pid of pids) {
      if (this.byPid.has(pid) || this.ignoredPids.has(pid)) continue;
      const stat = this.procfs.stat(pid);
      if (stat === undefined) continue;
      if (isKernelThread(stat)) this.ignoredPids.add(pid);
      else stats.push(stat);
    }
    this.welcome(
      stats.map((stat) => this.admit(stat)),
      true,
    );
  }

  private welcome(fresh: ProcessRecord[], emit: boolean): void {
    // Read every new process before linking parents: a parent and child can appear in the same pass.
    for (const record of fresh) this.linkParent(record);
    const now = Date.now();
    for (const record of fresh) {
      const t = this.tracked.get(record.key)!;
      t.started = emit ? this.track(this.announce(record)) : Promise.resolve();
      if (emit && now - record.startTimeMs < YOUNG_MS) this.young.set(record.key, record.startTimeMs + YOUNG_MS);
    }
    this.recheckYoung(now);
  }

  /** A young process whose image changed since we read it exec'd: report the new image as a start. */
  private recheckYoung(now: number): void {
    for (const [key, until] of this.young) {
      const t = this.tracked.get(key);
      if (t === undefined || now > until) {
        this.young.delete(key);
        continue;
      }
      const pid = t.record.pid;
      const exe = this.procfs.identity(pid)?.exe ?? "";
      const cmd = commandLineOf(this.procfs, pid);
      if ((exe === "" && cmd === "") || (exe === t.record.exe && cmd === t.record.commandLine)) continue;
      const stat = this.procfs.stat(pid);
      if (stat === undefined || processKey(stat) !== key) continue;
      const record = readProcessRecord(this.procfs, this.users, stat, key, this.bootTimeMs);
      record.parentExe = t.record.parentExe;
      record.parentCommandLine = t.record.parentCommandLine;
      t.record = record;
      const previous = t.started;
      t.started = this.track(previous.then(() => this.announce(record)));
    }
  }

  private admit(stat: ProcStat): ProcessRecord {
    const key = processKey(stat);
    const record = readProcessRecord(this.procfs, this.users, stat, key, this.bootTimeMs);
    this.tracked.set(key, { record, started: Promise.resolve() });
    this.byPid.set(stat.pid, key);
    return record;
  }

  private linkParent(record: ProcessRecord): void {
    const parentKey = this.byPid.get(record.ppid);
    const parent = parentKey === undefined ? undefined : this.tracked.get(parentKey)?.record;
    if (parent === undefined) return;
    record.parentExe = parent.exe;
    record.parentCommandLine = parent.commandLine;
  }

  private async announce(record: ProcessRecord): Promise<void> {
    if (record.exe !== "") {
      const hashing = this.hashExecutable(record);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(""), this.hashWaitMs);
      });
      record.sha256 = await Promise.race([hashing, timeout]);
      clearTimeout(timer);
    }
    this.emit(ProcessAction.PROCESS_ACTION_START, record, record.startTimeMs);
  }

  private async hashExecutable(record: ProcessRecord): Promise<string> {
    // Through the magic link: it reaches the exact inode that was executed, even if deleted or replaced.
    const viaLink = await this.hasher.hash(this.procfs.exeLinkPath(record.pid));
    if (viaLink.outcome !== "error" || record.exeDeleted) return viaLink.sha256;
    // The process already exited: the path is the next best thing (cached by identity, so usually free).
    return (await this.hasher.hash(record.exe)).sha256;
  }

  private exit(key: string): void {
    const t = this.tracked.get(key);
    if (!t) return;
    this.tracked.delete(key);
    if (this.byPid.get(t.record.pid) === key) this.byPid.delete(t.record.pid);
    // The kernel's exit time is not in /proc; the moment we noticed is the best bound we have.
    const noticedMs = Date.now();
    // Fire and forget: track() counts a failure and keeps the promise for stop() to wait on.
    void this.track(t.started.then(() => this.emit(ProcessAction.PROCESS_ACTION_EXIT, t.record, noticedMs)));
  }

  private emit(action: ProcessAction, r: ProcessRecord, timeMs: number): void {
    const sink = this.sink;
    if (!sink) return;
    const body: ProcessEvent = {
      action,
      pid: r.pid,
      ppid: r.ppid,
      exe: r.exe,
      commandLine: r.commandLine,
      user: r.user,
      uid: r.uid,
      cwd: r.cwd,
      startTimeMs: r.startTimeMs,
      sha256: r.sha256,
      parentExe: r.parentExe,
      parentCommandLine: r.parentCommandLine,
      name: r.name,
      exeDeleted: r.exeDeleted,
      exitCode: 0,
      // /proc's status line has the effective uid too, but polling reads only the real one.
      euid: r.uid,
      durationMs: action === ProcessAction.PROCESS_ACTION_EXIT ? Math.max(0, timeMs - r.startTimeMs) : 0,
      cgroupId: 0,
      source: "proc",
      ...cgroupFields(r.cgroup),
    };
    try {
      sink.emit({ $case: "process", process: body }, timeMs);
      this.counters.events++;
    } catch (err) {
      this.fail(`emit failed: ${(err as Error).message}`);
    }
  }

  private track(p: Promise<void>): Promise<void> {
    const guarded = p.catch((err: unknown) => {
      this.fail(`process event failed: ${(err as Error).message}`);
    });
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
    return guarded;
  }

  private fail(message: string, count = 1): void {
    this.counters.errors += count;
    this.counters.detail = this.summary ? `${this.summary}; last error: ${message}` : message;
  }
}
