import { AuthAction, type AuthEvent } from "@vigil/proto";
import { buildAuthEvent } from "./fields";
import { parseAuthMessage, serviceOf } from "./messages";
import { parseSyslogHeader } from "../tail";

export interface ParsedAuth {
  auth: AuthEvent;
  /** When it happened on the host (epoch ms). */
  timeMs: number;
  /** Emit the event this many times ("message repeated N times"); absent means once. */
  repeat?: number;
}

export interface ParseOptions {
  /** Reference time for the year of classic syslog stamps; defaults to the current time. */
  now?: Date;
  /**
   * Also return lines that are no known authentication event, as AUTH_ACTION_OTHER with the
   * program as service and the line as raw: Sigma rules with `keywords` (sshd crash
   * signatures, exploit traces, pkexec abuse) match text in any line of the auth log.
   */
  keepOther?: boolean;
}

/** Longer input is cut before matching: keeps regex work per line bounded. */
export const MAX_PARSE_CHARS = 16 * 1024;

/**
 * Parses one line of /var/log/auth.log or /var/log/secure into an AuthEvent.
 * Returns null for lines that are not authentication events or not syslog at
 * all. Never throws.
 */
export function parseAuthLine(line: string, opts: ParseOptions = {}): ParsedAuth | null {
  try {
    if (typeof line !== "string") return null;
    const text = line.length > MAX_PARSE_CHARS ? line.slice(0, MAX_PARSE_CHARS) : line;
    const head = parseSyslogHeader(text.replace(/\r?\n$/, ""), opts.now ?? new Date());
    if (!head) return null;
    return fromMessage(head.program, head.pid, head.hostname, head.message, head.timeMs, line, opts.keepOther);
  } catch {
    return null; // a parser bug must cost one line, never the sensor
  }
}

/** Shared by the file and journald paths once the header fields are known. */
export function fromMessage(program: string, pid: number, hostname: string, message: string, timeMs: number, raw: string, keepOther = false): ParsedAuth | null {
  const found = parseAuthMessage(program, message);
  if (!found) {
    if (!keepOther) return null;
    return { auth: buildAuthEvent({ action: AuthAction.AUTH_ACTION_OTHER, service: serviceOf(program), pid, hostname, raw }), timeMs };
  }
  const auth = buildAuthEvent({ ...found.fields, pid, hostname, raw });
  return found.repeat > 1 ? { auth, timeMs, repeat: found.repeat } : { auth, timeMs };
}
