import * as fs from "node:fs";
import * as path from "node:path";
import { SpoolLockedError } from "./types";

const LOCK = "LOCK";
/** Directories this process holds, so a second open in the same process is refused too. */
const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Two writers on one spool would interleave seqs and corrupt segments, so the
 * directory is claimed with a pid file. A lock left by a dead process (kill -9)
 * is taken over.
 */
export function acquireLock(dir: string): () => void {
  const abs = path.resolve(dir);
  const file = path.join(abs, LOCK);
  if (heldHere.has(abs)) throw new SpoolLockedError(abs, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      heldHere.add(abs);
      return () => {
        heldHere.delete(abs);
        fs.rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const pid = Number.parseInt(fs.readFileSync(file, "utf8"), 10);
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) throw new SpoolLockedError(abs, pid);
      fs.rmSync(file, { force: true });
    }
  }
  throw new SpoolLockedError(abs, -1);
}
