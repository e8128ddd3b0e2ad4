/** Pieces of `journalctl -o json` entries that every journal reader needs. */

/** The journal cursor of an entry, for resuming with --after-cursor. */
export function journalCursor(obj: unknown): string | null {
  if (typeof obj !== "object" || obj === null) return null;
  const c = (obj as Record<string, unknown>)["__CURSOR"];
  return typeof c === "string" && c.length > 0 && c.length < 1024 ? c : null;
}

/**
 * A field's text. journalctl writes a field as an array of byte values when it is not
 * valid UTF-8 (or holds control bytes), and as null when it is too large to show.
 */
export function journalField(v: unknown, maxBytes: number): string | null {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.length <= maxBytes && v.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    return Buffer.from(v as number[]).toString("utf8");
  }
  return null;
}

/** _PID / SYSLOG_PID as a number; 0 when absent or not a pid. */
export function journalPid(s: string | null): number {
  if (s === null || !/^\d{1,10}$/.test(s)) return 0;
  return Number(s);
}

/** __REALTIME_TIMESTAMP is microseconds since the epoch, as a decimal string. */
export function journalTimeMs(s: string | null): number | null {
  if (s === null || !/^\d{1,19}$/.test(s)) return null;
  const ms = Math.floor(Number(s) / 1000);
  return Number.isSafeInteger(ms) && ms < 8.64e15 ? ms : null;
}

/** A journal entry as the syslog line rsyslog would have written for it. */
export interface JournalRecord {
  identifier: string;
  pid: number;
  hostname: string;
  timeMs: number;
  message: string;
  /** There is no line "as written"; this is the one rsyslog would have written. */
  raw: string;
}

/** Reads one `journalctl -o json` entry; null for anything malformed. Never throws. */
export function journalRecord(obj: unknown, maxChars: number): JournalRecord | null {
  try {
    if (typeof obj !== "object" || obj === null) return null;
    const e = obj as Record<string, unknown>;
    const message = journalField(e["MESSAGE"], maxChars * 4);
    const identifier = journalField(e["SYSLOG_IDENTIFIER"], maxChars * 4) ?? journalField(e["_COMM"], maxChars * 4);
    if (message === null || identifier === null) return null;
    const pid = journalPid(journalField(e["_PID"], 64) ?? journalField(e["SYSLOG_PID"], 64));
    const hostname = journalField(e["_HOSTNAME"], 1024) ?? "";
    const timeMs = journalTimeMs(journalField(e["__REALTIME_TIMESTAMP"], 64));
    if (timeMs === null) return null;
    const msg = message.length > maxChars ? message.slice(0, maxChars) : message;
    const raw = `${new Date(timeMs).toISOString()} ${hostname} ${identifier}${pid ? `[${pid}]` : ""}: ${msg}`;
    return { identifier, pid, hostname, timeMs, message: msg, raw };
  } catch {
    return null;
  }
}
