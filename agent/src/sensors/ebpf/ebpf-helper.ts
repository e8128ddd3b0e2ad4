import { fullJitterDelay } from "@vigil/proto";
import { spawn, type ChildProcess } from "node:child_process";
import { FrameDecoder, RecordError, type EbpfRecord } from "./records";

export interface EbpfHelperOptions {
  /** The vigil-ebpf executable (already located and verified: see helper-binary.ts). */
  path: string;
  /** Watched path prefixes for file records (globs are cut at their first wildcard). */
  prefixes: string[];
  /** Attach the DNS programs (send/receive syscalls on port 53 sockets). Default true. */
  dns?: boolean;
  /** How long to wait for the helper to attach its programs. Default 5000 ms. */
  readyTimeoutMs?: number;
  /** Restarts after a crash before giving up; each waits twice as long. Default 5. */
  maxRestarts?: number;
}

export interface EbpfHelperStats {
  /** Tracepoints attached. */
  programs: number;
  /** Records the kernel's ring buffer had no room for (the agent fell behind): lost, and counted. */
  kernelDrops: number;
  records: number;
  decodeErrors: number;
  restarts: number;
}

type Listener = (r: EbpfRecord) => void;

/**
 * Starts the helper (once, shared) and subscribes a sensor to its records. Resolves the
 * unsubscribe function, or undefined with `counters.detail` saying why the feed is unavailable.
 */
export async function subscribeWhenReady(helper: EbpfHelper, counters: { detail: string }, listener: Listener): Promise<(() => void) | undefined> {
  const problem = await helper.start();
  if (problem !== undefined) {
    counters.detail = `eBPF unavailable: ${problem}`;
    return undefined;
  }
  return helper.subscribe(listener);
}

const MAX_PREFIXES = 16;

/**
 * Runs the native eBPF helper and turns its stdout into records. One helper serves every
 * kernel-fed sensor (process, network, file attribution); each subscribes to what it needs.
 * Its stdin is a pipe that is never written: when the agent dies it closes, and the helper exits.
 */
export class EbpfHelper {
  private child: ChildProcess | undefined;
  private readonly listeners = new Set<Listener>();
  private starting: Promise<string | undefined> | undefined;
  private stopped = false;
  private stderrTail = "";
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly counts: EbpfHelperStats = { programs: 0, kernelDrops: 0, records: 0, decodeErrors: 0, restarts: 0 };
  /** Why the helper is not running now ("" while it runs). */
  private problem = "not started";
  /** Kernel drops of earlier runs of the helper (each run's counter starts at 0). */
  private dropsBeforeRestart = 0;
  private lastRunDrops = 0;

  constructor(private readonly options: EbpfHelperOptions) {}

  get stats(): EbpfHelperStats {
    return { ...this.counts };
  }

  /** "" while the helper runs, else what stops it. */
  get status(): string {
    return this.problem;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the helper once; resolves undefined when attached, or the reason it could not be. */
  start(): Promise<string | undefined> {
    this.starting ??= this.launch();
    return this.starting;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin?.end();
    child.kill("SIGTERM");
    await gone;
  }

  private launch(): Promise<string | undefined> {
    const args: string[] = [];
    for (const p of this.options.prefixes.slice(0, MAX_PREFIXES)) args.push("--prefix", p);
    if (this.options.dns === false) args.push("--no-dns");
    const child = spawn(this.options.path, args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    this.stderrTail = "";
    const decoder = new FrameDecoder();
    return new Promise((resolve) => {
      let settled = false;
      const settle = (reason: string | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.problem = reason ?? "";
        resolve(reason);
      };
      const timer = setTimeout(() => {
        settle(`no ready record within ${this.options.readyTimeoutMs ?? 5000} ms`);
        child.kill("SIGKILL");
      }, this.options.readyTimeoutMs ?? 5000);
      child.on("error", (err) => settle(`cannot run ${this.options.path}: ${err.message}`));
      child.stderr!.on("data", (d: Buffer) => {
        this.stderrTail = (this.stderrTail + d.toString("utf8")).slice(-500);
      });
      child.stdout!.on("data", (chunk: Buffer) => {
        let records: EbpfRecord[];
        try {
          records = decoder.push(chunk);
        } catch (err) {
          if (!(err instanceof RecordError)) throw err;
          // A desynchronised stream cannot be trusted from here on: restart the helper.
          this.counts.decodeErrors++;
          this.problem = `corrupt output: ${err.message}`;
          child.kill("SIGKILL");
          return;
        }
        for (const r of records) this.dispatch(r, settle);
      });
      child.on("exit", (code, signal) => {
        const why = this.stderrTail.trim() || `exited with ${signal ?? `code ${code}`}`;
        if (this.child === child) this.child = undefined;
        if (!settled) {
          settle(why);
          return;
        }
        if (this.stopped) return;
        this.problem = `helper stopped: ${why}`;
        this.scheduleRestart();
      });
    });
  }

  private dispatch(r: EbpfRecord, settle: (reason: string | undefined) => void): void {
    if (r.kind === "ready") {
      this.counts.programs = r.programs;
      settle(undefined);
      return;
    }
    if (r.kind === "stats") {
      // The kernel counts since the helper started; add what earlier runs of it lost.
      this.counts.kernelDrops = this.dropsBeforeRestart + r.dropped;
      this.lastRunDrops = r.dropped;
      return;
    }
    this.counts.records++;
    for (const l of this.listeners) l(r);
  }

  private scheduleRestart(): void {
    const max = this.options.maxRestarts ?? 5;
    if (this.counts.restarts >= max) {
      this.problem = `${this.problem}; gave up after ${max} restarts`;
      return;
    }
    this.dropsBeforeRestart += this.lastRunDrops;
    this.lastRunDrops = 0;
    // A floor: a helper that dies at once must not use up its restarts in a burst.
    const delay = fullJitterDelay(this.counts.restarts, { baseMs: 500, capMs: 30_000, floorMs: 250 });
    this.counts.restarts++;
    this.restartTimer = setTimeout(() => {
      if (this.stopped) return;
      void this.launch();
    }, delay);
    this.restartTimer.unref();
  }
}
