import { formatIp, parseIp } from "../net/ip";

/**
 * Per-user login baseline: where a user logs in from and at what hours. Plain JSON so the
 * controller can store one row per user; every function returns a new object.
 */

export interface BaselineConfig {
  /** Known source addresses kept per user; the least recently seen is forgotten first. */
  maxIps: number;
  /** Logins needed before the hour-of-day histogram is trusted to call an hour unusual. */
  minSamplesForHours: number;
  /** An hour is unusual when the logins within one hour of it are below this share of all logins. */
  unusualHourShare: number;
  /** Offset of the user's working time zone from UTC, in minutes. */
  utcOffsetMinutes: number;
  /** When the histogram holds more logins than this, every bin is halved so habits can change. */
  maxHourSamples: number;
}

export const DEFAULT_BASELINE_CONFIG: BaselineConfig = {
  maxIps: 50,
  minSamplesForHours: 20,
  unusualHourShare: 0.02,
  utcOffsetMinutes: 0,
  maxHourSamples: 2000,
};

export interface KnownIp {
  ip: string;
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
}

export interface LoginBaseline {
  version: 1;
  user: string;
  logins: number;
  firstSeenMs: number;
  lastSeenMs: number;
  ips: KnownIp[];
  /** 24 bins of successful logins by hour of day (in the configured offset). */
  hours: number[];
}

export interface Login {
  user: string;
  /** Empty for local logins (console, su), which only feed the hour histogram. */
  sourceIp?: string;
  timeMs: number;
}

export type DeviationKind = "new_source_ip" | "unusual_hour";

export interface DeviationReason {
  kind: DeviationKind;
  detail: string;
}

const HOUR_MS = 3_600_000;

export function hourOfDay(timeMs: number, utcOffsetMinutes: number): number {
  const h = Math.floor((timeMs + utcOffsetMinutes * 60_000) / HOUR_MS) % 24;
  return h < 0 ? h + 24 : h;
}

function canonicalIp(ip: string): string {
  const parsed = parseIp(ip, { allowZone: true });
  return parsed ? formatIp(parsed) : ip.trim();
}

export function emptyBaseline(user: string): LoginBaseline {
  return { version: 1, user, logins: 0, firstSeenMs: 0, lastSeenMs: 0, ips: [], hours: Array<number>(24).fill(0) };
}

/**
 * Records a successful login. Late (out-of-order) logins are fine: first/last seen take min/max.
 */
export function observeLogin(baseline: LoginBaseline | undefined, login: Login, cfg: BaselineConfig = DEFAULT_BASELINE_CONFIG): LoginBaseline {
  const b = baseline ?? emptyBaseline(login.user);
  let hours = [...b.hours];
  const bin = hourOfDay(login.timeMs, cfg.utcOffsetMinutes);
  hours[bin] = (hours[bin] ?? 0) + 1;
  if (hours.reduce((a, n) => a + n, 0) > cfg.maxHourSamples) hours = hours.map((n) => Math.floor(n / 2));

  let ips = b.ips;
  if (login.sourceIp) {
    const ip = canonicalIp(login.sourceIp);
    const known = ips.find((k) => k.ip === ip);
    const updated: KnownIp = known
      ? {
          ip,
          firstSeenMs: Math.min(known.firstSeenMs, login.timeMs),
          lastSeenMs: Math.max(known.lastSeenMs, login.timeMs),
          count: known.count + 1,
        }
      : { ip, firstSeenMs: login.timeMs, lastSeenMs: login.timeMs, count: 1 };
    ips = [...ips.filter((k) => k.ip !== ip), updated].sort((x, y) => x.lastSeenMs - y.lastSeenMs);
    // Least recently seen first after the sort, so the cap evicts from the front.
    if (ips.length > cfg.maxIps) ips = ips.slice(ips.length - cfg.maxIps);
  }
  return {
    version: 1,
    user: b.user,
    logins: b.logins + 1,
    firstSeenMs: b.logins === 0 ? login.timeMs : Math.min(b.firstSeenMs, login.timeMs),
    lastSeenMs: Math.max(b.lastSeenMs, login.timeMs),
    ips,
    hours,
  };
}

function formatHour(h: number, offsetMinutes: number): string {
  const zone = offsetMinutes === 0 ? "UTC" : `UTC${offsetMinutes > 0 ? "+" : "-"}${Math.abs(offsetMinutes / 60)}`;
  return `${String(h).padStart(2, "0")}:00 ${zone}`;
}

/**
 * How a login departs from the user's baseline, judged before the login is observed. A user with no
 * history gives no reasons: with nothing to compare, "new" would flag every first login.
 */
export function loginDeviation(baseline: LoginBaseline | undefined, login: Login, cfg: BaselineConfig = DEFAULT_BASELINE_CONFIG): DeviationReason[] {
  if (!baseline || baseline.logins === 0) return [];
  const reasons: DeviationReason[] = [];
  if (login.sourceIp) {
    const ip = canonicalIp(login.sourceIp);
    if (!baseline.ips.some((k) => k.ip === ip)) {
      reasons.push({
        kind: "new_source_ip",
        detail: `first login of ${baseline.user} from ${ip} (${baseline.ips.length} known source address${baseline.ips.length === 1 ? "" : "es"})`,
      });
    }
  }
  const total = baseline.hours.reduce((a, n) => a + n, 0);
  if (total >= cfg.minSamplesForHours) {
    const h = hourOfDay(login.timeMs, cfg.utcOffsetMinutes);
    // Neighbouring hours count too, so 08:59 and 09:01 habits are the same habit.
    const near = [23, 0, 1].reduce((a, d) => a + (baseline.hours[(h + d) % 24] ?? 0), 0);
    if (near / total < cfg.unusualHourShare) {
      reasons.push({
        kind: "unusual_hour",
        detail: `login at ${formatHour(h, cfg.utcOffsetMinutes)}; ${near} of ${total} past logins were within an hour of it`,
      });
    }
  }
  return reasons;
}

export type BaselineParse = { ok: true; baseline: LoginBaseline } | { ok: false; error: string };

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/** Validates a stored baseline (e.g. a JSON column) before use, naming the first bad field. */
export function parseLoginBaseline(value: unknown): BaselineParse {
  if (typeof value !== "object" || value === null) return { ok: false, error: "baseline is not an object" };
  const v = value as Record<string, unknown>;
  if (v.version !== 1) return { ok: false, error: `baseline.version must be 1, got ${JSON.stringify(v.version)}` };
  if (typeof v.user !== "string") return { ok: false, error: "baseline.user must be a string" };
  for (const f of ["logins", "firstSeenMs", "lastSeenMs"] as const) {
    if (!isCount(v[f])) return { ok: false, error: `baseline.${f} must be a non-negative number` };
  }
  if (!Array.isArray(v.hours) || v.hours.length !== 24) return { ok: false, error: "baseline.hours must be an array of 24 numbers" };
  const badHour = v.hours.findIndex((n) => !isCount(n));
  if (badHour >= 0) return { ok: false, error: `baseline.hours[${badHour}] must be a non-negative number` };
  if (!Array.isArray(v.ips)) return { ok: false, error: "baseline.ips must be an array" };
  for (const [i, k] of v.ips.entries()) {
    const ok =
      typeof k === "object" && k !== null && typeof (k as KnownIp).ip === "string" && isCount((k as KnownIp).firstSeenMs) && isCount((k as KnownIp).lastSeenMs) && isCount((k as KnownIp).count);
    if (!ok) return { ok: false, error: `baseline.ips[${i}] must be {ip, firstSeenMs, lastSeenMs, count}` };
  }
  return { ok: true, baseline: value as LoginBaseline };
}
