import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/**
 * Polls `cond` until it holds or the deadline passes (then throws with `what` and `context()`, the
 * sensor's state). The default deadline is the shared one (controller/test/support/wait.ts): these
 * waits cover spawning shell stand-ins and polling files, which on a loaded 2-core CI box can take
 * seconds; a healthy sensor still passes in milliseconds.
 */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 20_000, context?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${context ? `\n${context()}` : ""}`);
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
