import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Polls `cond` until it holds or the deadline passes (then throws with `what`). */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vigil-auth-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** n numbered lines "<tag> 0" .. "<tag> n-1". */
export function numbered(tag: string, n: number, from = 0): string[] {
  return Array.from({ length: n }, (_, i) => `${tag} ${from + i}`);
}
