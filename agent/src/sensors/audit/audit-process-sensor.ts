import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import type { ProcessEvent } from "@vigil/proto";
import { FileHasher } from "../../platform/linux/file-hasher";
import { Procfs } from "../../platform/linux/procfs";
import { UserNames } from "../../platform/linux/users";
import { ProcessTable } from "../ebpf/process-table";
import { startTimeMs } from "../process/process-record";
import { SensorCounters, type EventSink, type Sensor, type SensorHealth } from "../sensor";
import { AuditAssembler } from "./audit-assembler";
import { auditExec, auditProcessStart, type AuditExec } from "./audit-exec";
import { DispatcherFeed, LogFeed, dispatcherSocket, type AuditFeed } from "./audit-feed";
import { AuditExecRule, auditdPid, runAuditctl, type Auditctl } from "./audit-rule";
import { DEFAULT_AUDIT_LOG } from "./audit-sensor";
import { parseAuditLine } from "./parse-audit-line";
import { hashExecutedImage } from "../process/image-hash";
import { procCgroup } from "../process/cgroup-fields";

export interface AuditProcessSensorOptions {
  /** Directory for the log offset. */
  stateDir: string;
  /** auditd's log, read when no dispatcher socket is there. Default /var/log/audit/audit.log. */
  logPath?: string;
  /** The af_unix dispatcher socket; default: the one /etc/audit/plugins.d/af_unix.conf declares. */
  socketPath?: string;
  auditctl?: Auditctl;
  procRoot?: string;
  passwdPath?: string;
  hasher?: FileHasher;
  /** Longest wait for an executable's hash before START goes out without it. Default 2000 ms. */
  hashWaitMs?: number;
  /** Only root may change audit rules; injectable for tests. */
  isRoot?: () => boolean;
}

/** Records of one exec: SYSCALL carries pid/ppid/uid/exe, EXECVE the argv, CWD the directory. */
const EXEC_RECORDS = ["SYSCALL", "EXECVE", "CWD", "PATH", "PROCTITLE"];

/**
 * Every exec, from auditd, when eBPF is not available: the agent adds one execve rule (key
 * `vigil-exec`) and reads the records from auditd's dispatcher socket, or from its log. Each
 * exec's records (one serial) become ONE process START event in the eBPF sensor's shape, so rules
 * see the same fields whichever source runs. A 1 ms process is seen with its argv, cwd and parent.
 * Exits are not (no rule for exit_group: it would double the audit volume).
 */
export class AuditProcessSensor implements Sensor {
  readonly name = "process";
  private readonly counters = new SensorCounters();
  private readonly procfs: Procfs;
  private readonly users: UserNames;
  private readonly hasher: FileHasher;
  private readonly hashWaitMs: number;
  private readonly rule: AuditExecRule;
  private readonly table = new ProcessTable({ maxEntries: 8192 });
  private readonly pending = new Set<Promise<void>>();
  private feed: AuditFeed | undefined;
  private assembler: AuditAssembler | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private sink: EventSink | undefined;
  private bootTimeMs = 0;
  private ruleNote = "";
  private feedProblem = "";

  constructor(private readonly opts: AuditProcessSensorOptions) {
    this.procfs = new Procfs(opts.procRoot);
    this.users = new UserNames(opts.passwdPath);
    this.hasher = opts.hasher ?? new FileHasher();
    this.hashWaitMs = opts.hashWaitMs ?? 2000;
    this.rule = new AuditExecRule(opts.auditctl ?? runAuditctl);
  }

  /** Leaves running false with the reason when auditd or its rule is not there (the caller falls back). */
  async start(sink: EventSink): Promise<void> {
    const isRoot = this.opts.isRoot ?? (() => process.getuid?.() === 0);
    if (!isRoot()) {
      this.counters.detail = "audit unavailable: not root (cannot add the execve audit rule)";
      return;
    }
    const auditctl = this.opts.auditctl ?? runAuditctl;
    const pid = await auditdPid(auditctl).catch((err: unknown) => {
      this.counters.detail = `audit unavailable: ${(err as Error).message}`;
      return -1;
    });
    if (pid === 0) this.counters.detail = "audit unavailable: auditd is not running";
    if (pid <= 0) return;
    const boot = this.procfs.bootTimeMs();
    if (boot === undefined) {
      this.counters.detail = `audit unavailable: cannot read ${this.procfs.root}/stat`;
      return;
    }
    this.bootTimeMs = boot;
    this.sink = sink;
    this.assembler = new AuditAssembler({ keepTypes: EXEC_RECORDS, flushAfterMs: 200 }, (event, timeMs) => {
      const exec = auditExec(event);
      if (exec) this.onExec(exec, timeMs);
    });
    this.flushTimer = setInterval(() => this.assembler?.tick(), 100);
    this.flushTimer.unref();
    this.feed = await this.openFeed();
    if (!this.feed) {
      this.counters.detail = `audit unavailable: ${this.feedProblem}`;
      this.stopTimer();
      return;
    }
    const problem = await this.rule.install();
    this.ruleNote = problem ? `execve rule NOT installed (${problem}): sees only the execs the host's own audit rules record` : `execve audit rule (key vigil-exec) added by Vigil, removed at stop`;
    this.table.seed(this.procfs, (ticks) => startTimeMs(this.bootTimeMs, ticks));
    this.counters.running = true;
    this.counters.detail = this.describe();
  }

  async stop(): Promise<void> {
    this.counters.running = false;
    this.stopTimer();
    await this.feed?.stop();
    this.feed = undefined;
    this.assembler?.flushAll();
    await Promise.allSettled([...this.pending]);
    const left = this.rule.active ? await this.rule.remove() : "";
    if (left) this.counters.detail = `execve audit rule NOT removed: ${left}`;
    this.sink = undefined;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
  }

  private describe(): string {
    const problem = this.feedProblem ? `; ${this.feedProblem}` : "";
    return `reading auditd's ${this.feed?.description ?? "records"}; ${this.ruleNote}${problem}`;
  }

  private async openFeed(): Promise<AuditFeed | undefined> {
    const onLines = (lines: string[]) => this.onLines(lines);
    const socket = this.opts.socketPath ?? dispatcherSocket();
    let socketProblem = "no af_unix dispatcher plugin active";
    if (socket) {
      const feed = new DispatcherFeed(socket, onLines, (p) => this.onFeedStatus(p));
      try {
        await feed.start();
        return feed;
      } catch (err) {
        socketProblem = `dispatcher socket ${socket}: ${(err as Error).message}`;
      }
    }
    const file = this.opts.logPath ?? DEFAULT_AUDIT_LOG;
    if (!existsSync(file)) {
      this.feedProblem = `${socketProblem}, and no audit log at ${file}`;
      return undefined;
    }
    await mkdir(this.opts.stateDir, { recursive: true });
    const feed = new LogFeed(file, this.opts.stateDir, onLines, (p) => this.onFeedStatus(p));
    await feed.start();
    return feed;
  }

  private onFeedStatus(problem: string): void {
    this.feedProblem = problem;
    if (problem) this.counters.errors++;
    if (this.counters.running) this.counters.detail = this.describe();
  }

  private onLines(lines: string[]): void {
    for (const line of lines) {
      const parsed = parseAuditLine(line);
      if (parsed) this.assembler?.push(parsed);
    }
  }

  private onExec(e: AuditExec, auditTimeMs: number): void {
    const parent = this.table.get(e.ppid);
    // The start time /proc gives, while the process lives (kill commands check it); else the
    // moment auditd stamped, which for a process already gone is the closest there is.
    const stat = this.procfs.stat(e.pid);
    const started = stat ? startTimeMs(this.bootTimeMs, stat.startTicks) : auditTimeMs;
    const commandLine = e.argv.length > 0 ? e.argv.join(" ") : e.exe;
    this.table.set({ pid: e.pid, ppid: e.ppid, exe: e.exe, commandLine, uid: e.uid, startTimeMs: started });
    const parentExe = parent?.exe ?? this.procfs.identity(e.ppid)?.exe ?? "";
    const parentCommandLine = parent?.commandLine ?? this.procfs.cmdline(e.ppid);
    const user = e.uid >= 0 ? this.users.name(e.uid) : "";
    // Audit records carry no cgroup: /proc tells it while the process lives (a 1 ms one is gone by now).
    const cgroup = stat ? procCgroup(this.procfs, e.pid) : undefined;
    this.track(
      this.hashOf(e.pid, e.exe).then((sha256) => {
        this.emit(auditProcessStart(e, { user, startTimeMs: started, parentExe, parentCommandLine, sha256, cgroup }), auditTimeMs);
      }),
    );
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

  private track(p: Promise<void>): void {
    const guarded = p.catch((err: unknown) => {
      this.counters.errors++;
      this.counters.detail = `process event failed: ${(err as Error).message}`;
    });
    this.pending.add(guarded);
    void guarded.finally(() => this.pending.delete(guarded));
  }

  private stopTimer(): void {
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.flushTimer = undefined;
  }
}
