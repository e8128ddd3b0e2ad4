import { promises as fsp } from "node:fs";
import type { EventSink, Sensor, SensorHealth } from "../sensor";
import { SensorCounters } from "../sensor";
import { FileTailer, firstExistingFile, tailStatePath } from "../tail";
import { parseSyslogLine } from "./parse-syslog-line";

/** Debian/Ubuntu (rsyslog), then RHEL/SUSE. The auth log is the auth sensor's. */
export const DEFAULT_SYSLOGS = ["/var/log/syslog", "/var/log/messages"];

export interface SyslogSensorOptions {
  /** The log to follow; when unset the first of DEFAULT_SYSLOGS that exists. */
  path?: string;
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
  private tailer: FileTailer | null = null;
  private sink: EventSink | null = null;

  constructor(private readonly opts: SyslogSensorOptions) {}

  async start(sink: EventSink): Promise<void> {
    if (this.counters.running) return;
    this.sink = sink;
    this.counters.running = true;
    await fsp.mkdir(this.opts.stateDir, { recursive: true });
    const candidates = this.opts.candidates ?? DEFAULT_SYSLOGS;
    const file = this.opts.path ?? (await firstExistingFile(candidates));
    if (!file) {
      this.counters.detail = `no system log file (${candidates.join(", ")}); the journal is not followed`;
      return;
    }
    this.tailer = new FileTailer({
      path: file,
      statePath: tailStatePath(this.opts.stateDir, "syslog", file),
      pollMs: this.opts.pollMs,
      fromStart: this.opts.fromStart,
      onLines: (lines) => this.onLines(lines),
      onStatus: (problem) => {
        this.counters.detail = problem;
        if (problem) this.counters.errors++;
      },
    });
    await this.tailer.start();
  }

  async stop(): Promise<void> {
    await this.tailer?.stop();
    this.tailer = null;
    this.counters.running = false;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
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
