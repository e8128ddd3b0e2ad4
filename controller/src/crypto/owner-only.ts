import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";

/**
 * The controller's data is its own user's alone: the database holds webhook secrets,
 * API key hashes, command outputs (evidence); the data dir holds the CA and signing keys.
 * New files get it at creation (explicit modes), existing ones are tightened at start.
 */

/**
 * Creates `dir` (and parents) 0700 if needed. An existing directory is tightened to 0700
 * only when `ours` (Vigil's data dir) and it is owned by this user and not a shared
 * sticky directory such as /tmp: a database placed in /var/lib must not lock others out of it.
 */
export function ownerOnlyDir(dir: string, ours: boolean): void {
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined || !ours) return;
  const st = statSync(dir);
  if ((st.mode & 0o1000) !== 0 || st.uid !== process.getuid?.()) return;
  if ((st.mode & 0o077) !== 0) tighten(dir, 0o700);
}

/** Makes an existing file 0600; a missing one is left missing. */
export function ownerOnlyFile(path: string): void {
  if (existsSync(path)) tighten(path, 0o600);
}

/**
 * Before SQLite opens `dbFile`: its directory 0700, the file created empty at 0600 if
 * missing (SQLite gives its -wal and -shm the database file's mode), and an existing
 * database and its journals (from an older install, created 0644) tightened to 0600.
 */
export function ownerOnlySqlite(dbFile: string, dir: string): void {
  ownerOnlyDir(dir, false);
  if (!existsSync(dbFile)) closeSync(openSync(dbFile, "a", 0o600));
  for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`]) ownerOnlyFile(f);
}

function tighten(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch (err) {
    // Better not to start than to serve secrets others can read.
    throw new Error(`cannot make ${path} private (mode ${mode.toString(8)}): ${(err as Error).message}`, { cause: err });
  }
}
