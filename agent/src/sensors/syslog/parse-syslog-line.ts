import { redactVigilSecrets, type LogEvent } from "@vigil/proto";
import { parseSyslogHeader } from "../tail";

/** Lines of a system log carry daemon output an attacker can influence: bound what is kept. */
export const LOG_LIMITS = { message: 4096, raw: 4096, name: 256 } as const;

export interface ParsedLog {
  log: LogEvent;
  timeMs: number;
}

const cap = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);

/** A LogEvent with every field within LOG_LIMITS, whichever source (file line, journal entry) it came from. */
export function boundedLogEvent(f: LogEvent): LogEvent {
  return {
    log: f.log,
    program: cap(f.program, LOG_LIMITS.name),
    pid: f.pid > 0 && f.pid <= 0x7fffffff ? f.pid : 0,
    hostname: cap(f.hostname, LOG_LIMITS.name),
    // Daemons log command lines too (cron, systemd-run): Vigil's own secrets are not kept.
    message: cap(redactVigilSecrets(f.message), LOG_LIMITS.message),
    raw: cap(redactVigilSecrets(f.raw), LOG_LIMITS.raw),
  };
}

/**
 * One line of a syslog file (classic, RFC 3339 or RFC 5424 header) as a LogEvent of `log`.
 * Lines without a syslog header (continuations, binary noise) return null. Never throws.
 */
export function parseSyslogLine(line: string, log: string, now: Date): ParsedLog | null {
  try {
    const text = line.replace(/\r?\n$/, "");
    const head = parseSyslogHeader(text.length > 16_384 ? text.slice(0, 16_384) : text, now);
    if (!head) return null;
    return { log: boundedLogEvent({ log, program: head.program, pid: head.pid, hostname: head.hostname, message: head.message, raw: text }), timeMs: head.timeMs };
  } catch {
    return null;
  }
}
