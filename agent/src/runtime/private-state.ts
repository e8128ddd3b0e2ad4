import { chmodSync, lstatSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Bounds the walk over an existing state dir (spool segments are the bulk of it). */
const MAX_ENTRIES = 100_000;

/**
 * Only the agent's user may read its state: keys, certificates, the spool (telemetry
 * with command lines), command results (evidence). New files get it from the umask the
 * agent sets at start; this brings an existing or hand-made state dir into line:
 * nothing for group or others (directories 0700, files 0600); symlinks are left alone, never followed.
 * Returns how many entries it had to tighten.
 */
export function makeStateDirPrivate(stateDir: string): number {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  let budget = MAX_ENTRIES;
  let fixed = 0;
  const visit = (path: string): void => {
    if (budget-- <= 0) return;
    const st = lstatSync(path);
    if (st.isSymbolicLink()) return;
    if ((st.mode & 0o077) !== 0) {
      // Group and others lose everything; the owner keeps what it had (a directory stays searchable).
      chmodSync(path, st.isDirectory() ? 0o700 : st.mode & 0o700);
      fixed++;
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(stateDir);
  return fixed;
}

/** Files and directories the agent creates from here on are its own alone. */
export function ownerOnlyUmask(): void {
  process.umask(0o077);
}
