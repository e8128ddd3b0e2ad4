import { type ChildProcess, spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { fullJitterDelay } from "@vigil/proto";
import { writeFileAtomicAsync } from "../../platform/linux/atomic-file";
import { journalCursor } from "./journal-fields";
import { LineSplitter } from "./line-splitter";

export interface JournalSourceOptions {
  /** journalctl matches, e.g. SYSLOG_IDENTIFIER=sshd (OR-ed); none follows the whole journal. */
  matches: string[];
  /** Called with each parsed JSON entry, in journal order. */
  onEntry: (entry: unknown) => void;
  /** Called when the source's condition changes: "" when healthy, else why not. */
  onStatus: (problem: string) => void;
  /** Persisted journal cursor, so a restart resumes after the last entry seen. */
  cursorPath?: string;
  command?: string;
  /** First restart delay; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

const MAX_ENTRY_BYTES = 256 * 1024;
/** A child that ran this long was healthy: the next failure starts the backoff over. */
const HEALTHY_RUN_MS = 30_000;

/**
 * `journalctl -f -o json` as a child process, for hosts that log to the journal
 * only. Restarted with jittered exponential backoff when it exits.
 */
export class JournalSource {
  private child: ChildProcess | null = null;
  private stopped = true;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private cursor: string | null = null;
  private lastStderr = "";
  restarts = 0;

  constructor(private readonly opts: JournalSourceOptions) {}

  async start(): Promise<void> {
    this.stopped = false;
    if (this.opts.cursorPath) {
      const text = await fsp.readFile(this.opts.cursorPath, "utf8").catch(() => "");
      this.cursor = journalCursor({ __CURSOR: text.trim() });
    }
    this.launch();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
    }
    this.child = null;
  }

  private launch(): void {
    const args = ["-f", "-o", "json", "--no-pager"];
    args.push(...(this.cursor ? [`--after-cursor=${this.cursor}`] : ["-n", "0"]));
    args.push(...this.opts.matches);
    const startedAt = Date.now();
    const child = spawn(this.opts.command ?? "journalctl", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    const lines = new LineSplitter(MAX_ENTRY_BYTES);
    let done = false;
    const finish = (why: string): void => {
      if (done) return;
      done = true;
      if (this.child === child) this.child = null;
      if (this.stopped) return;
      this.failures = Date.now() - startedAt > HEALTHY_RUN_MS ? 1 : this.failures + 1;
      this.opts.onStatus(`journalctl ${why}${this.lastStderr ? `: ${this.lastStderr}` : ""}; restarting`);
      this.scheduleRestart();
    };
    child.stdout!.on("data", (chunk: Buffer) => this.onLines(lines.push(chunk)));
    child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8").trim();
      if (text) this.lastStderr = text.split("\n").pop()!.slice(0, 300);
    });
    child.once("spawn", () => this.opts.onStatus(""));
    child.once("error", (err: NodeJS.ErrnoException) => finish(`failed: ${err.code ?? err.message}`));
    child.once("close", (code, signal) => finish(`exited (${signal ?? `code ${code}`})`));
  }

  private onLines(lines: string[]): void {
    let last: string | null = null;
    for (const line of lines) {
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        continue; // a truncated or garbled entry costs that entry only
      }
      this.opts.onEntry(entry);
      last = journalCursor(entry) ?? last;
    }
    if (last) this.saveCursor(last);
  }

  private saveCursor(cursor: string): void {
    this.cursor = cursor;
    const file = this.opts.cursorPath;
    if (!file) return;
    // The cursor is saved after the entries were handed on; losing a write only means re-reading a few.
    writeFileAtomicAsync(file, cursor, { durable: false }).catch(() => undefined);
  }

  private scheduleRestart(): void {
    const base = this.opts.backoffMs ?? 1000;
    const max = this.opts.maxBackoffMs ?? 60_000;
    const jittered = fullJitterDelay(this.failures - 1, { baseMs: base, capMs: max });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.stopped) return;
      this.restarts++;
      this.launch();
    }, jittered);
    this.restartTimer.unref();
  }
}
