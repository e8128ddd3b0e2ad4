import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { open, rename, mkdir } from "node:fs/promises";
import { dirname } from "node:path";

/*
 * The one way the agent replaces a file: write a temp file beside it (owner-only), fsync it, rename
 * it over the old one. A crash leaves the old or the new version, never half of one, and nobody
 * but the agent's user can read state, keys or cursors in between.
 */

export interface AtomicWriteOptions {
  /**
   * fsync before the rename (default true). Off only for files that are rewritten every few seconds
   * and are worthless after a power loss (status.json): rename alone still rules out a torn file.
   */
  durable?: boolean;
  /** File mode; owner-only by default. */
  mode?: number;
}

function tempPath(path: string): string {
  return `${path}.${process.pid}.tmp`;
}

/** Synchronous: for state that must be on disk before the action it records is reported. */
export function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempPath(path);
  writeFileSync(tmp, data, { mode: opts.mode ?? 0o600 });
  if (opts.durable !== false) {
    const fd = openSync(tmp, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  renameSync(tmp, path);
}

/** The same off the event loop, for sensors' cursors and baselines written while events flow. */
export async function writeFileAtomicAsync(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tempPath(path);
  const fh = await open(tmp, "w", opts.mode ?? 0o600);
  try {
    await fh.writeFile(data);
    if (opts.durable !== false) await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/**
 * Small JSON state files (isolation, blocks, replay ids). Synchronous on purpose: enforcement
 * state must be on disk before the action is reported.
 */
export function writeJsonAtomic(path: string, value: unknown, opts: AtomicWriteOptions = {}): void {
  writeFileAtomic(path, JSON.stringify(value), opts);
}

/** A state file's text; undefined when it does not exist (any other error throws). */
export function readFileIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * Reads a state file. Missing → undefined. Corrupt → throws with the path, because
 * silently treating a corrupt isolation file as "not isolated" would release a host.
 */
export function readJsonState(path: string): unknown {
  const text = readFileIfExists(path);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`corrupt state file ${path}: ${(e as Error).message}`, { cause: e });
  }
}
