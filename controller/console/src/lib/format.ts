// Formatting shared by the pages: times in the analyst's locale and zone, sizes, relative ages.

export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "never";
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

// One format for absolute times everywhere: the analyst's local time with its zone named
// ("Dec 3, 14:05:12 GMT+1"); the exact UTC instant (ISO 8601) is on hover (components/time.tsx).
const dateTime = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
const dateTimeThisYear = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" });
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const zoneOnly = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" });

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  // The year is noise for this year's events, which are nearly all of them.
  return (d.getFullYear() === new Date().getFullYear() ? dateTimeThisYear : dateTime).format(d);
}

/** Time of day only, for lists under a day heading that names the zone (see `zone`). */
export function clock(iso: string): string {
  return timeOnly.format(new Date(iso));
}

/** The viewer's time zone as the formats above name it ("UTC", "GMT+1"). */
export function zone(at: string | number = Date.now()): string {
  return zoneOnly.formatToParts(new Date(at)).find((p) => p.type === "timeZoneName")?.value ?? "";
}

/** The exact instant, UTC ISO 8601 (for hover text and machine-readable attributes). */
export function iso(at: string | number): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? String(at) : d.toISOString();
}

export function bytes(n: number | undefined): string {
  if (!n) return "0 B";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function humanize(s: string): string {
  return s.replace(/_/g, " ");
}

/** Score bands, shared by badges, bars and the alert queue: the same colour means the same urgency. */
export function scoreBand(score: number): "critical" | "high" | "medium" | "low" {
  if (score >= 80) return "critical";
  if (score >= 60) return "high";
  if (score >= 40) return "medium";
  return "low";
}

const integer = new Intl.NumberFormat(undefined);

export function count(n: number): string {
  return integer.format(n);
}
