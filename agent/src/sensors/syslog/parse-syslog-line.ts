import type { LogEvent } from "@vigil/proto";
import { parseSyslogHeader } from "../tail";

/** Lines of a system log carry daemon output an attacker can influence: bound what is kept. */
export const LOG_LIMITS = { message: 4096, raw: 4096, name: 256 } as const;

export interface ParsedLog {
  log: LogEvent;
  timeMs: number;
}

const cap = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);

/**
 * One line of a syslog file (classic, RFC 3339 or RFC 5424 header) as a LogEvent of `log`.
 * Lines without a syslog header (continuations, binary noise) return null. Never throws.
 */
export function parseSyslogLine(line: string, log: string, now: Date): ParsedLog | null {
  try {
    const text = line.replace(/\r?\n$/, "");
    const head = parseSyslogHeader(text.length > 16_384 ? text.slice(0, 16_384) : text, now);
    if (!head) return null;
    return {
      log: {
        log,
        program: cap(head.program, LOG_LIMITS.name),
        pid: head.pid > 0 && head.pid <= 0x7fffffff ? head.pid : 0,
        hostname: cap(head.hostname, LOG_LIMITS.name),
        message: cap(head.message, LOG_LIMITS.message),
        raw: cap(text, LOG_LIMITS.raw),
      },
      timeMs: head.timeMs,
    };
  } catch {
    return null;
  }
}
