import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { Glob, type GlobPart } from "@vigil/detection";

/**
 * What the agent watches unless configured otherwise: system configuration, SSH keys, cron and
 * systemd units, locally installed programs, and the shell startup files that run at every login
 * (persistence there is an `echo >> ~/.bashrc` away and needs no new process to notice).
 */
export const DEFAULT_WATCH_PATHS: readonly string[] = [
  "/etc",
  "/root/.ssh",
  "/home/*/.ssh",
  "/usr/local/bin",
  "/var/spool/cron",
  "/etc/systemd/system",
  "/root/.bashrc",
  "/root/.bash_profile",
  "/root/.profile",
  "/home/*/.bashrc",
  "/home/*/.bash_profile",
  "/home/*/.profile",
];

/** Expands "*" path segments (e.g. /home/*\/.ssh) against the directories that exist now. */
export function expandPattern(pattern: string): string[] {
  const parts = resolve(pattern)
    .split(sep)
    .filter((p) => p !== "");
  let bases: string[] = [sep];
  for (const part of parts) {
    if (!part.includes("*")) {
      bases = bases.map((b) => join(b, part));
      continue;
    }
    // Only `*` is a wildcard here; matched by the linear glob, not a backtracking RegExp, since
    // directory names are chosen by whoever can create them.
    const glob = new Glob(
      part.split("*").flatMap((lit, i): GlobPart[] => [...(i > 0 ? [{ t: "star" as const }] : []), ...(lit ? [{ t: "lit" as const, v: lit }] : [])]),
      false,
    );
    const next: string[] = [];
    for (const b of bases) {
      let names: string[];
      try {
        names = readdirSync(b);
      } catch {
        continue;
      }
      for (const n of names.sort()) if (glob.test(n) && !n.startsWith(".")) next.push(join(b, n));
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
  /**
   * Absent paths whose directory exists (a ~/.bash_profile not written yet): watched for their
   * creation, since creating one is exactly the change worth seeing. Also listed in `absent`.
   */
  awaited: string[];
}

export function resolveWatchRoots(patterns: readonly string[]): WatchRoots {
  const present: string[] = [];
  const absent: string[] = [];
  const awaited: string[] = [];
  for (const pattern of patterns) {
    const candidates = expandPattern(pattern);
    const matches = candidates.filter((p) => existsSync(p));
    if (matches.length === 0) absent.push(pattern);
    present.push(...matches);
    awaited.push(...candidates.filter((p) => !existsSync(p) && isDirectory(dirname(p))));
  }
  // /etc/systemd/system lies inside /etc: watching it twice would double every event.
  const unique = [...new Set(present)].sort();
  const roots = unique.filter((p) => !unique.some((q) => q !== p && isUnder(p, q)));
  return { present: roots, absent, awaited: [...new Set(awaited)].filter((p) => !roots.some((r) => isUnder(p, r))).sort() };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

export function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}
