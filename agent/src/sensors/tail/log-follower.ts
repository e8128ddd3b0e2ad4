import path from "node:path";
import { FileTailer } from "./file-tailer";
import { JournalSource } from "./journal-source";
import { tailStatePath } from "./log-paths";

export interface LogFollowerOptions {
  /** Names the state files: `<sensor>-tail-<hash>.json`, `<sensor>-journal-cursor`. */
  sensor: string;
  stateDir: string;
  source:
    | { file: string; pollMs?: number; fromStart?: boolean; onLines: (lines: string[]) => void }
    | { journal: { command?: string; matches: string[]; backoffMs?: number; onEntry: (entry: unknown) => void } };
  /** "" when healthy, else why not; `code` is the errno-like reason when there is one. */
  onStatus: (problem: string, code?: string) => void;
}

/**
 * Follows one log for a sensor: a file (kept across rotation, offset saved) or the journal
 * (cursor saved). The sensors differ only in what they make of a line or an entry.
 */
export class LogFollower {
  private tailer: FileTailer | null = null;
  private journal: JournalSource | null = null;

  constructor(private readonly opts: LogFollowerOptions) {}

  /** "file:/var/log/auth.log" or "journald". */
  get description(): string {
    const s = this.opts.source;
    return "file" in s ? `file:${s.file}` : "journald";
  }

  async start(): Promise<void> {
    const s = this.opts.source;
    if ("file" in s) {
      this.tailer = new FileTailer({
        path: s.file,
        statePath: tailStatePath(this.opts.stateDir, this.opts.sensor, s.file),
        pollMs: s.pollMs,
        fromStart: s.fromStart,
        onLines: s.onLines,
        onStatus: this.opts.onStatus,
      });
      await this.tailer.start();
    } else {
      this.journal = new JournalSource({
        command: s.journal.command,
        matches: s.journal.matches,
        cursorPath: path.join(this.opts.stateDir, `${this.opts.sensor}-journal-cursor`),
        backoffMs: s.journal.backoffMs,
        onEntry: s.journal.onEntry,
        onStatus: (problem) => this.opts.onStatus(problem),
      });
      await this.journal.start();
    }
  }

  async stop(): Promise<void> {
    await this.tailer?.stop();
    await this.journal?.stop();
    this.tailer = null;
    this.journal = null;
  }
}
