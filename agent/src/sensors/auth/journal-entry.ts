import { MAX_PARSE_CHARS, type ParsedAuth, fromMessage } from "./parse-line";

/** SYSLOG_IDENTIFIERs that write authentication events; used as journalctl matches. */
export const JOURNAL_IDENTIFIERS = ["sshd", "sshd-session", "sshd-auth", "sudo", "su", "login", "systemd-logind", "systemd", "useradd", "userdel", "usermod", "gpasswd", "passwd", "chpasswd"];

/**
 * Parses one entry of `journalctl -o json`. journalctl writes a field as an
 * array of byte values when it is not valid UTF-8 (or holds control bytes),
 * and as null when it is too large to show. Returns null for non-auth entries
 * and for anything malformed. Never throws.
 */
export function parseJournalEntry(obj: unknown, opts: { keepOther?: boolean } = {}): ParsedAuth | null {
  try {
    if (typeof obj !== "object" || obj === null) return null;
    const e = obj as Record<string, unknown>;
    const message = field(e["MESSAGE"]);
    const ident = field(e["SYSLOG_IDENTIFIER"]) ?? field(e["_COMM"]);
    if (message === null || ident === null) return null;
    const pid = toInt(field(e["_PID"]) ?? field(e["SYSLOG_PID"]));
    const host = field(e["_HOSTNAME"]) ?? "";
    const timeMs = realtimeMs(field(e["__REALTIME_TIMESTAMP"]));
    if (timeMs === null) return null;
    const msg = message.length > MAX_PARSE_CHARS ? message.slice(0, MAX_PARSE_CHARS) : message;
    // There is no line "as written"; rebuild the one rsyslog would have written.
    const raw = `${new Date(timeMs).toISOString()} ${host} ${ident}${pid ? `[${pid}]` : ""}: ${msg}`;
    return fromMessage(ident, pid, host, msg, timeMs, raw, opts.keepOther);
  } catch {
    return null;
  }
}

/** The journal cursor of an entry, for resuming with --after-cursor. */
export function journalCursor(obj: unknown): string | null {
  if (typeof obj !== "object" || obj === null) return null;
  const c = (obj as Record<string, unknown>)["__CURSOR"];
  return typeof c === "string" && c.length > 0 && c.length < 1024 ? c : null;
}

function field(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.length <= MAX_PARSE_CHARS * 4 && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    return Buffer.from(v as number[]).toString("utf8");
  }
  return null;
}

function toInt(s: string | null): number {
  if (s === null || !/^\d{1,10}$/.test(s)) return 0;
  return Number(s);
}

/** __REALTIME_TIMESTAMP is microseconds since the epoch, as a decimal string. */
function realtimeMs(s: string | null): number | null {
  if (s === null || !/^\d{1,19}$/.test(s)) return null;
  const ms = Math.floor(Number(s) / 1000);
  return Number.isSafeInteger(ms) && ms < 8.64e15 ? ms : null;
}
