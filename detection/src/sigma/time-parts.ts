/** Time modifiers (`minute`, `hour`, ...): a numeric part of a date field, in UTC. */

export type TimePart = "minute" | "hour" | "day" | "week" | "month" | "year";

/** Accepts epoch milliseconds (number or digits) or an ISO-8601 string; NaN when not a date. */
export function timePart(value: string, part: TimePart): number {
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(t)) return NaN;
  const d = new Date(t);
  switch (part) {
    case "minute":
      return d.getUTCMinutes();
    case "hour":
      return d.getUTCHours();
    case "day":
      return d.getUTCDate();
    case "month":
      return d.getUTCMonth() + 1;
    case "year":
      return d.getUTCFullYear();
    case "week":
      return isoWeek(d);
  }
}

function isoWeek(d: Date): number {
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - dow); // the Thursday of this ISO week decides its year
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  return Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7);
}
