import { promises as fsp } from "node:fs";
import type { EventSink, Sensor, SensorHealth } from "../sensor";
import { SensorCounters } from "../sensor";
import { LogFollower, firstExistingFile, journalRecord } from "../tail";
import { boundedLogEvent, LOG_LIMITS, parseSyslogLine } from "./parse-syslog-line";

/** Debian/Ubuntu (rsyslog), then RHEL/SUSE. The auth log is the auth sensor's. */
export const DEFAULT_SYSLOGS = ["/var/log/syslog", "/var/log/messages"];

export interface SyslogSensorOptions {
  /**
   * The log to follow; when unset the first of DEFAULT_SYSLOGS that exists. "journal" follows
   * the whole systemd journal instead (hosts without rsyslog): every entry, so it is opt-in.
   */
  path?: string;
  /** With "journal": SYSLOG_IDENTIFIERs another sensor already reports (the auth programs). */
  exclude?: string[];
  journalctl?: string;
  journalBackoffMs?: number;
  /** Default DEFAULT_SYSLOGS. */
  candidates?: string[];
  stateDir: string;
  pollMs?: number;
  fromStart?: boolean;
  now?: () => Date;
}

/**
 * The system log (daemons, kernel, cron) as LogEvents, so that public rules written for
 * it (Sigma `service: syslog`, `cron`, `vsftpd`, `clamav`, ...) see its lines. Hosts
 * that log only to the journal have no such file: the sensor then idles and says so.
 */
export class SyslogSensor implements Sensor {
  readonly name = "syslog";
  private readonly counters = new SensorCounters();
  private follower: LogFollower | null = null;
  private sink: EventSink | null = null;

  constructor(private readonly opts: SyslogSensorOptions) {}

  async start(sink: EventSink): Promise<void> {
    if (this.counters.running) return;
    this.sink = sink;
    this.counters.running = true;
    await fsp.mkdir(this.opts.stateDir, { recursive: true });
    let seeing = "";
    const onStatus = (problem: string): void => {
      this.counters.detail = problem ? `${seeing}; ${problem}` : seeing;
      if (problem) this.counters.errors++;
    };
    if (this.opts.path === "journal") {
      seeing = "following the whole journal (every service's messages)";
      const exclude = new Set(this.opts.exclude ?? []);
      this.follower = new LogFollower({
        sensor: "syslog",
        stateDir: this.opts.stateDir,
        source: { journal: { command: this.opts.journalctl, matches: [], backoffMs: this.opts.journalBackoffMs, onEntry: (entry) => this.onEntry(entry, exclude) } },
        onStatus,
      });
    } else {
      const candidates = this.opts.candidates ?? DEFAULT_SYSLOGS;
      const file = this.opts.path ?? (await firstExistingFile(candidates));
      if (!file) {
        this.counters.detail = `no system log file (${candidates.join(", ")}); the journal is not followed`;
        return;
      }
      seeing = `reading ${file} (every line)`;
      this.follower = new LogFollower({
        sensor: "syslog",
        stateDir: this.opts.stateDir,
        source: { file, pollMs: this.opts.pollMs, fromStart: this.opts.fromStart, onLines: (lines) => this.onLines(lines) },
        onStatus,
      });
    }
    this.counters.detail = seeing;
    await this.follower.start();
  }

  async stop(): Promise<void> {
    await this.follower?.stop();
    this.follower = null;
    this.counters.running = false;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
  }

  private onEntry(entry: unknown, exclude: Set<string>): void {
    const r = journalRecord(entry, LOG_LIMITS.message);
    if (!r || exclude.has(r.identifier) || !this.sink) return;
    const log = boundedLogEvent({ log: "journal", program: r.identifier, pid: r.pid, hostname: r.hostname, message: r.message, raw: r.raw });
    this.sink.emit({ $case: "log", log }, r.timeMs);
    this.counters.events++;
  }

  private onLines(lines: string[]): void {
    if (!this.sink) return;
    const now = this.opts.now?.() ?? new Date();
    for (const line of lines) {
      const p = parseSyslogLine(line, "syslog", now);
      if (!p) continue;
      this.sink.emit({ $case: "log", log: p.log }, p.timeMs);
      this.counters.events++;
    }
  }
}
