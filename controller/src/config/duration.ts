import { ConfigError } from "./config-error";

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30d", "90s", "1h30m", "500ms" → milliseconds. */
export function parseDuration(value: string, name: string): number {
  const text = value.trim();
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    consumed = re.lastIndex;
  }
  if (!text || consumed !== text.length) throw new ConfigError(`${name}: expected a duration like 30d, 12h, 90s; got "${value}"`);
  return Math.round(total);
}
