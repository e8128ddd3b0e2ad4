import { promises as fsp } from "node:fs";
import type { EventSink, Sensor, SensorHealth } from "../sensor";
import { SensorCounters } from "../sensor";
import { LogFollower } from "../tail";
import { parseAuditLine } from "./parse-audit-line";

export const DEFAULT_AUDIT_LOG = "/var/log/audit/audit.log";

export interface AuditSensorOptions {
  /** Default /var/log/audit/audit.log. */
  path?: string;
  /** Directory for the saved offset. */
  stateDir: string;
  /** File poll interval. Default 250 ms. */
  pollMs?: number;
  /** On first ever start, read the existing file too (default: only new records). */
  fromStart?: boolean;
}

/**
 * Records of the Linux audit subsystem, as auditd writes them: every exec the
 * kernel saw (EXECVE), however short-lived, plus whatever the host's audit rules
 * watch. Vigil does not change the host's audit rules; without auditd the sensor
 * waits for the log to appear and says so in its health, without counting errors.
 */
export class AuditSensor implements Sensor {
  readonly name = "audit";
  private readonly counters = new SensorCounters();
  private follower: LogFollower | null = null;
  private sink: EventSink | null = null;

  constructor(private readonly opts: AuditSensorOptions) {}

  async start(sink: EventSink): Promise<void> {
    if (this.counters.running) return;
    this.sink = sink;
    this.counters.running = true;
    await fsp.mkdir(this.opts.stateDir, { recursive: true });
    const file = this.opts.path ?? DEFAULT_AUDIT_LOG;
    const seeing = `reading ${file}: the host's auditd records (what its audit rules watch)`;
    this.counters.detail = seeing;
    this.follower = new LogFollower({
      sensor: "audit",
      stateDir: this.opts.stateDir,
      source: { file, pollMs: this.opts.pollMs, fromStart: this.opts.fromStart, onLines: (lines) => this.onLines(lines) },
      onStatus: (problem, code) => {
        this.counters.detail = !problem ? seeing : code === "ENOENT" ? `no audit log at ${file} (auditd not running?); waiting for it` : `${seeing}; ${problem}`;
        if (problem && code !== "ENOENT") this.counters.errors++;
      },
    });
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

  private onLines(lines: string[]): void {
    if (!this.sink) return;
    for (const line of lines) {
      const parsed = parseAuditLine(line);
      if (!parsed) continue;
      this.sink.emit({ $case: "audit", audit: parsed.audit }, parsed.timeMs);
      this.counters.events++;
    }
  }
}
