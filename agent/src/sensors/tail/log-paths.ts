import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";

/** The first of `paths` that is a file. stat needs no read permission: an unreadable log is still chosen, and reported. */
export async function firstExistingFile(paths: string[]): Promise<string | null> {
  for (const p of paths)
    if (
      await fsp.stat(p).then(
        (s) => s.isFile(),
        () => false,
      )
    )
      return p;
  return null;
}

/** Where a sensor keeps its offset in `file`: one state file per followed path. */
export function tailStatePath(stateDir: string, sensor: string, file: string): string {
  return path.join(stateDir, `${sensor}-tail-${createHash("sha256").update(file).digest("hex").slice(0, 16)}.json`);
}
