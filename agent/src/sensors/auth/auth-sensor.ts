import { promises as fsp } from "node:fs";
import type { EventSink, Sensor, SensorHealth } from "../sensor";
import { SensorCounters } from "../sensor";
import { DEFAULT_JOURNAL_DIRS, LogFollower, firstExistingFile, journalFilesPresent } from "../tail";
import { JOURNAL_IDENTIFIERS, parseJournalEntry } from "./journal-entry";
import { type ParsedAuth, parseAuthLine } from "./parse-line";

export interface AuthSensorOptions {
  /** The auth log to follow; when unset the first of `candidates` that exists. */
  path?: string;
  /** Directory for the saved offset / journal cursor. */
  stateDir: string;
  /** File poll interval. Default 250 ms. */
  pollMs?: number;
  /** On first ever start, read the existing file too (default: only new lines). */
  fromStart?: boolean;
  /** Default: /var/log/auth.log (Debian/Ubuntu), then /var/log/secure (RHEL). */
  candidates?: string[];
  /** journalctl executable for hosts without an auth log file. */
  journalctl?: string;
  /** Where journal files would be; none there means the journal fallback sees nothing. */
  journalDirs?: string[];
  /** First journalctl restart delay (doubles per failure). Default 1 s. */
  journalBackoffMs?: number;
  /** Clock for the year of classic syslog stamps. */
  now?: () => Date;
  /**
   * Report every line, not only recognised authentication events (default true): the others
   * come as AUTH_ACTION_OTHER so that Sigma `keywords` rules for sshd, sudo or auth see them.
   */
  allLines?: boolean;
}

export const DEFAULT_AUTH_LOGS = ["/var/log/auth.log", "/var/log/secure"];

/**
 * Logins, sudo, su, sessions and account changes, from the auth log file or,
 * failing that, from the journal; with `allLines`, every other line too. Unreadable sources degrade the sensor (health says why);
 * they never stop the agent.
 */
export class AuthSensor implements Sensor {
  readonly name = "auth";
  private readonly counters = new SensorCounters();
  private follower: LogFollower | null = null;
  private sink: EventSink | null = null;
  /** What the sensor reads when all is well; health's detail is this plus the current problem. */
  private seeing = "";
  /** Why nothing can reach the sensor ("" when something can): SSH brute-force detection is off then. */
  private blindBecause = "";
  /** Set while no journal file exists and no entry has come: journalctl runs but sees nothing. */
  private noJournal = "";
  private started = false;

  constructor(private readonly opts: AuthSensorOptions) {}

  /** "file:/var/log/auth.log" or "journald", once started. */
  get source(): string {
    return this.follower?.description ?? "";
  }

  async start(sink: EventSink): Promise<void> {
    // `running` goes false while blind; `started` is whether start() ran.
    if (this.started) return;
    this.started = true;
    this.sink = sink;
    this.counters.running = true;
    await fsp.mkdir(this.opts.stateDir, { recursive: true });
    const candidates = this.opts.path ? [this.opts.path] : (this.opts.candidates ?? DEFAULT_AUTH_LOGS);
    const file = this.opts.path ?? (await firstExistingFile(candidates));
    const keepOther = this.opts.allLines ?? true;
    const noFile = `no auth log (${candidates.join(", ") || "none configured"})`;
    if (file) {
      this.seeing = `reading ${file}: SSH logins and failures, sudo, su, account changes`;
    } else {
      this.seeing = `${noFile}; following the journal (sshd, sudo, su, login, account tools)`;
      const dirs = this.opts.journalDirs ?? DEFAULT_JOURNAL_DIRS;
      if (!(await journalFilesPresent(dirs))) this.noJournal = `${noFile} and no journal files (${dirs.join(", ")})`;
    }
    this.counters.detail = this.seeing;
    this.follower = new LogFollower({
      sensor: "auth",
      stateDir: this.opts.stateDir,
      source: file
        ? { file, pollMs: this.opts.pollMs, fromStart: this.opts.fromStart, onLines: (lines) => this.onLines(lines) }
        : {
            journal: {
              command: this.opts.journalctl,
              matches: JOURNAL_IDENTIFIERS.map((id) => `SYSLOG_IDENTIFIER=${id}`),
              backoffMs: this.opts.journalBackoffMs,
              onEntry: (entry) => {
                // Entries flow: whatever the file check said, the journal is there.
                this.noJournal = "";
                if (this.blindBecause) this.setBlind("");
                this.emit(parseJournalEntry(entry, { keepOther }));
              },
            },
          },
      onStatus: (problem) => this.setProblem(problem, !file),
    });
    if (this.noJournal) this.setBlind(this.noJournal);
    await this.follower.start();
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
    this.follower = null;
    this.counters.running = false;
    this.started = false;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
  }

  private onLines(lines: string[]): void {
    const now = this.opts.now?.() ?? new Date();
    const keepOther = this.opts.allLines ?? true;
    for (const line of lines) this.emit(parseAuthLine(line, { now, keepOther }));
  }

  private emit(parsed: ParsedAuth | null): void {
    if (!parsed || !this.sink) return;
    const n = parsed.repeat ?? 1;
    // A copy per event: the pipeline may annotate what it is given.
    for (let i = 0; i < n; i++) this.sink.emit({ $case: "auth", auth: { ...parsed.auth } }, parsed.timeMs);
    this.counters.events += n;
  }

  private setProblem(problem: string, fromJournal: boolean): void {
    if (problem) this.counters.errors++;
    // journalctl that cannot run (absent, no permission) on a host without an auth log: nothing reaches us.
    if (fromJournal) {
      if (problem) this.setBlind(`no auth log and the journal is unavailable (${problem})`);
      else this.setBlind(this.noJournal);
      return;
    }
    this.counters.detail = problem ? `${this.seeing}; ${problem}` : this.seeing;
  }

  /** Blind: not running as far as anyone reading health is concerned, and saying what that costs. */
  private setBlind(why: string): void {
    this.blindBecause = why;
    this.counters.running = !why;
    this.counters.detail = why ? `blind: ${why}: SSH brute-force and login detection are off` : this.seeing;
  }
}
