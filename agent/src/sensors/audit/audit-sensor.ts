import { promises as fsp } from "node:fs";
import { MAX_AUDIT_RECORDS } from "@vigil/proto";
import type { EventSink, Sensor, SensorHealth } from "../sensor";
import { SensorCounters } from "../sensor";
import { LogFollower } from "../tail";
import { AuditAssembler, type AssemblerStats } from "./audit-assembler";
import { VIGIL_EXEC_KEY } from "./audit-exec";
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
  /** Record types kept in each event (config `audit_types`); empty keeps all. */
  types?: string[];
  /** Events per second at most (config `audit_max_events_per_sec`); 0 = no cap. Drops are counted. */
  maxEventsPerSec?: number;
  /** How long an event without EOE waits for more records. Default 300 ms. */
  flushAfterMs?: number;
}

/**
 * Records of the Linux audit subsystem, as auditd writes them: every exec the
 * kernel saw (EXECVE), however short-lived, plus whatever the host's audit rules
 * watch, one event per audit event (its records joined by AuditAssembler; audit_types and a
 * rate cap bound the volume). Vigil does not change the host's audit rules; without auditd the
 * sensor waits for the log to appear and says so in its health, without counting errors.
 */
export class AuditSensor implements Sensor {
  readonly name = "audit";
  private readonly counters = new SensorCounters();
  private follower: LogFollower | null = null;
  private sink: EventSink | null = null;
  private assembler: AuditAssembler | null = null;
  private timer: NodeJS.Timeout | null = null;
  private seeing = "";

  constructor(private readonly opts: AuditSensorOptions) {}

  async start(sink: EventSink): Promise<void> {
    if (this.counters.running) return;
    this.sink = sink;
    this.counters.running = true;
    await fsp.mkdir(this.opts.stateDir, { recursive: true });
    const file = this.opts.path ?? DEFAULT_AUDIT_LOG;
    const seeing = `reading ${file}: the host's auditd records (what its audit rules watch), one event per audit event${this.opts.types?.length ? `, record types ${this.opts.types.join(",")}` : ""}${this.opts.maxEventsPerSec ? `, at most ${this.opts.maxEventsPerSec}/s` : ""}`;
    this.seeing = seeing;
    this.counters.detail = seeing;
    const flushAfterMs = this.opts.flushAfterMs ?? 300;
    this.assembler = new AuditAssembler({ keepTypes: this.opts.types, maxEventsPerSec: this.opts.maxEventsPerSec, flushAfterMs }, (audit, timeMs) => {
      // Records of Vigil's own execve rule are the process sensor's START events already.
      if (audit.fields.key === VIGIL_EXEC_KEY) return;
      this.sink?.emit({ $case: "audit", audit }, timeMs);
      this.counters.events++;
    });
    this.timer = setInterval(() => this.assembler?.tick(), Math.max(20, Math.floor(flushAfterMs / 2)));
    this.timer.unref();
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
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.assembler?.flushAll();
    this.counters.running = false;
  }

  health(): SensorHealth {
    const h = this.counters.snapshot(this.name);
    const s = this.assembler?.stats;
    // What the volume controls cost, next to what the sensor reads.
    if (s && (s.rateDropped || s.overflowRecords) && h.detail.startsWith(this.seeing)) {
      h.detail += `; dropped ${s.rateDropped} events over the rate cap, ${s.overflowRecords} records beyond ${MAX_AUDIT_RECORDS} per event`;
    }
    return h;
  }

  /** Records read, events emitted and what the volume controls dropped. */
  stats(): AssemblerStats | undefined {
    return this.assembler?.stats;
  }

  private onLines(lines: string[]): void {
    if (!this.sink) return;
    for (const line of lines) {
      const parsed = parseAuditLine(line);
      if (parsed) this.assembler?.push(parsed);
    }
  }
}
