/**
 * Splits a syslog file line into time, host, program, pid and message.
 * Layouts that occur in /var/log/auth.log, /var/log/secure and their exports:
 *   classic:   "May  1 12:00:00 host sshd[123]: msg"   (local time, no year;
 *              journalctl -o short-precise adds ".123456" to the seconds)
 *   RFC 3339:  "2024-05-01T12:00:00.123456+02:00 host sshd[123]: msg"  (rsyslog high precision)
 *   RFC 5424:  "<38>1 2024-05-01T12:00:00Z host sshd 123 - - msg"  (forwarded syslog)
 */

export interface SyslogHeader {
  timeMs: number;
  hostname: string;
  program: string;
  /** 0 when the program logged without a pid (sudo often does). */
  pid: number;
  message: string;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};

const DAY_MS = 86_400_000;

// The program name stops at '[', ':' or whitespace; the pid is optional.
const TAIL = String.raw` (\S+) ([^\s\[:]+)(?:\[(\d{1,10})\])?: ?(.*)$`;
const CLASSIC = new RegExp(String.raw`^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?` + TAIL, "s");
const RFC3339 = new RegExp(String.raw`^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})` + TAIL, "s");

// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]; "-" is nil.
const RFC5424 = new RegExp(String.raw`^(?:<\d{1,3}>)?1 (\S+) (\S+) (\S+) (\S+) \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?:\uFEFF)?(.*))?$`, "s");
const RFC3339_ONLY = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

export function parseSyslogHeader(line: string, now: Date): SyslogHeader | null {
  const r5424 = RFC5424.exec(line);
  if (r5424) {
    const ts = RFC3339_ONLY.exec(r5424[1]!);
    const timeMs = ts ? rfc3339Time(ts) : null;
    if (timeMs === null) return null;
    const pid = /^\d{1,10}$/.test(r5424[4]!) ? r5424[4] : undefined;
    return header(timeMs, r5424[2]!, r5424[3]!, pid, r5424[5] ?? "");
  }
  const classic = CLASSIC.exec(line);
  if (classic) {
    const timeMs = classicTime(classic, now);
    if (timeMs === null) return null;
    return header(timeMs, classic[6]!, classic[7]!, classic[8], classic[9]!);
  }
  const rfc = RFC3339.exec(line);
  if (rfc) {
    const timeMs = rfc3339Time(rfc);
    if (timeMs === null) return null;
    return header(timeMs, rfc[9]!, rfc[10]!, rfc[11], rfc[12]!);
  }
  return null;
}

function header(timeMs: number, hostname: string, program: string, pid: string | undefined, message: string): SyslogHeader {
  return { timeMs, hostname, program, pid: pid === undefined ? 0 : Number(pid), message };
}

/**
 * The classic form has no year and no zone: it is local time, and the year is
 * the one (of last, this and next) that puts the stamp closest to "now" without
 * being more than a day ahead of it: a December line read in January is from
 * last year, and a "Jan  1 00:00:05" line read at 23:59:50 on 31 December by a
 * reader whose clock lags the writer's is from next year. The day of slack
 * absorbs that clock skew.
 */
function classicTime(m: RegExpExecArray, now: Date): number | null {
  const month = MONTHS[m[1]!];
  if (month === undefined) return null;
  const day = Number(m[2]);
  const h = Number(m[3]);
  const min = Number(m[4]);
  const s = Number(m[5]);
  if (day < 1 || day > 31 || h > 23 || min > 59 || s > 60) return null;
  const nowMs = now.getTime();
  let best: number | null = null;
  for (const year of [now.getFullYear() + 1, now.getFullYear(), now.getFullYear() - 1]) {
    const t = localTime(year, month, day, h, min, s);
    if (t === null || t > nowMs + DAY_MS) continue;
    if (best === null || Math.abs(t - nowMs) < Math.abs(best - nowMs)) best = t;
  }
  // Feb 29 read in a non-leap year after a leap year: walk back to the last leap year.
  for (let year = now.getFullYear() - 2; best === null && year >= now.getFullYear() - 8; year--) best = localTime(year, month, day, h, min, s);
  return best;
}

/** Local-time epoch ms, or null if the date does not exist (e.g. Feb 30). */
function localTime(year: number, month: number, day: number, h: number, min: number, s: number): number | null {
  const d = new Date(year, month, day, h, min, Math.min(s, 59));
  if (d.getMonth() !== month || d.getDate() !== day) return null;
  return d.getTime();
}

function rfc3339Time(m: RegExpExecArray): number | null {
  const [year, month, day, h, min, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (month! < 1 || month! > 12 || day! < 1 || day! > 31 || h! > 23 || min! > 59 || s! > 60) return null;
  const frac = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  let utc = Date.UTC(year!, month! - 1, day!, h!, min!, Math.min(s!, 59), frac);
  const check = new Date(utc);
  if (check.getUTCDate() !== day) return null;
  const zone = m[8]!;
  if (zone !== "Z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const offMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
    if (offMin > 18 * 60) return null;
    utc -= sign * offMin * 60_000;
  }
  return utc;
}
