import { existsSync, readdirSync } from "node:fs";
import { join, resolve, sep } from "node:path";

export const DEFAULT_WATCH_PATHS: readonly string[] = [
  "/etc",
  "/root/.ssh",
  "/home/*/.ssh",
  "/usr/local/bin",
  "/var/spool/cron",
  "/etc/systemd/system",
];

/** Expands "*" path segments (e.g. /home/*\/.ssh) against the directories that exist now. */
export function expandPattern(pattern: string): string[] {
  const parts = resolve(pattern).split(sep).filter((p) => p !== "");
  let bases: string[] = [sep];
  for (const part of parts) {
    if (!part.includes("*")) {
      bases = bases.map((b) => join(b, part));
      continue;
    }
    const re = new RegExp(`^${part.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
    const next: string[] = [];
    for (const b of bases) {
      let names: string[];
      try {
        names = readdirSync(b);
      } catch {
        continue;
      }
      for (const n of names.sort()) if (re.test(n) && !n.startsWith(".")) next.push(join(b, n));
    }
    bases = next;
  }
  return bases;
}

export interface WatchRoots {
  /** Existing paths to watch, without duplicates or paths inside another root. */
  present: string[];
  /** Configured paths (or patterns matching nothing) that do not exist. */
  absent: string[];
}

export function resolveWatchRoots(patterns: readonly string[]): WatchRoots {
  const present: string[] = [];
  const absent: string[] = [];
  for (const pattern of patterns) {
    const matches = expandPattern(pattern).filter((p) => existsSync(p));
    if (matches.length === 0) absent.push(pattern);
    present.push(...matches);
  }
  // /etc/systemd/system lies inside /etc: watching it twice would double every event.
  const unique = [...new Set(present)].sort();
  const roots = unique.filter((p) => !unique.some((q) => q !== p && isUnder(p, q)));
  return { present: roots, absent };
}

export function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}
