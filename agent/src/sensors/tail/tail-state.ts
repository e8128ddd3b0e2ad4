import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { writeFileAtomicAsync } from "../../platform/linux/atomic-file";

/**
 * Where the tailer stands in a file. dev/ino say which file; the fingerprint
 * (sha256 of its first fpLen bytes) catches a file that kept its inode but was
 * truncated and rewritten (copytruncate) or replaced in place.
 */
export interface TailState {
  path: string;
  dev: number;
  ino: number;
  /** Byte offset just after the last line handed to the consumer. */
  offset: number;
  fpLen: number;
  fp: string;
}

/** How many leading bytes identify a file. */
export const FINGERPRINT_BYTES = 1024;

export async function fingerprint(fh: FileHandle, len: number): Promise<string> {
  if (len <= 0) return "";
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, 0);
  if (bytesRead < len) return ""; // shorter than it was: cannot be the same file
  return createHash("sha256").update(buf).digest("hex");
}

/** Reads saved state; a missing or corrupt file means "no state" (and says which). */
export async function loadTailState(file: string): Promise<{ state: TailState | null; problem?: string }> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { state: null };
    return { state: null, problem: `cannot read tail state ${file}: ${(err as Error).message}` };
  }
  try {
    const v = JSON.parse(text) as Partial<TailState>;
    const ok = typeof v.path === "string" && [v.dev, v.ino, v.offset, v.fpLen].every((n) => typeof n === "number" && Number.isSafeInteger(n) && n >= 0) && typeof v.fp === "string";
    if (ok) return { state: v as TailState };
  } catch {
    // fall through
  }
  return { state: null, problem: `ignoring corrupt tail state ${file}` };
}

/** Write-then-rename, so a crash mid-write leaves the previous state, never half of one. */
export async function saveTailState(file: string, state: TailState): Promise<void> {
  // Not fsynced: saved after every read, and a lost write only means re-reading a few lines.
  await writeFileAtomicAsync(file, JSON.stringify(state), { durable: false });
}
