import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Small JSON state files (isolation, blocks, replay ids). Written to a temp file,
 * fsynced and renamed, so a crash leaves the old or the new version, never half of one.
 * Synchronous on purpose: enforcement state must be on disk before the action is reported.
 */
export function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/**
 * Reads a state file. Missing → undefined. Corrupt → throws with the path, because
 * silently treating a corrupt isolation file as "not isolated" would release a host.
 */
export function readJsonState(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`corrupt state file ${path}: ${(e as Error).message}`);
  }
}
