import { watch, type FSWatcher } from "node:fs";
import { lstat, readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { isUnder } from "./watch-paths";

export interface DirectoryWatcherEvents {
  /** Something happened at this path: a hint, the tracker decides what. */
  changed(path: string): void;
  /** A watched directory is gone (deleted or moved away): what was known under it must be checked. */
  dirGone(dir: string): void;
  error(message: string): void;
}

/** A bound: a directory tree planted under a watched path cannot make the agent hold unbounded watches. */
const MAX_DIRECTORIES = 10_000;

interface Watched {
  watcher: FSWatcher;
  /** For a root that is a file: the only names of its parent directory that are reported. */
  only?: Set<string>;
}

/**
 * One inotify watch per directory (fs.watch, not recursive), none per file: the kernel reports the
 * creation, change, attribute change, deletion and renaming of every entry of a watched directory
 * on the directory's watch. chokidar keeps a watch and its Stats per file as well (~1,400 for /etc).
 * Used when the kernel feed names the changed paths itself: this is the net for what its
 * tracepoints cannot see (writes through a relative or dirfd-relative path, fchmod/fchown,
 * truncate, hard links) and for a helper that stopped.
 */
export class DirectoryWatcher {
  private readonly dirs = new Map<string, Watched>();
  private closed = false;

  constructor(private readonly on: DirectoryWatcherEvents) {}

  get directories(): number {
    return this.dirs.size;
  }

  /** Watches every directory under the roots (symlinks are not followed); resolves with the other entries found. */
  async start(roots: readonly string[]): Promise<string[]> {
    const found: string[] = [];
    for (const root of roots) {
      const st = await stat(root).catch(() => undefined);
      if (!st) {
        // Not there yet (an awaited file): watch its directory for that one name.
        if ((await stat(dirname(root)).catch(() => undefined))?.isDirectory()) this.watchDir(dirname(root), basename(root));
        continue;
      }
      if (st.isDirectory()) await this.walk(root, found);
      else {
        this.watchDir(dirname(root), basename(root));
        found.push(root);
      }
    }
    return found;
  }

  close(): void {
    this.closed = true;
    for (const w of this.dirs.values()) w.watcher.close();
    this.dirs.clear();
  }

  private async walk(dir: string, found: string[]): Promise<void> {
    // Watch before listing: an entry created in between is then listed, notified or both, never neither.
    if (!this.watchDir(dir)) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) await this.walk(path, found);
      else found.push(path);
    }
  }

  /** True when `dir` is newly watched as a whole directory. */
  private watchDir(dir: string, onlyName?: string): boolean {
    const known = this.dirs.get(dir);
    if (known) {
      if (onlyName) known.only?.add(onlyName);
      return false;
    }
    if (this.closed) return false;
    if (this.dirs.size >= MAX_DIRECTORIES) {
      this.on.error(`more than ${MAX_DIRECTORIES} directories: ${dir} is not watched`);
      return false;
    }
    let watcher: FSWatcher;
    try {
      watcher = watch(dir, { persistent: true }, (event, name) => this.onEvent(dir, event, name));
    } catch (err) {
      // Gone again, or not readable: nothing to watch.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.on.error(`cannot watch ${dir}: ${(err as Error).message}`);
      return false;
    }
    watcher.on("error", () => void this.check(dir));
    this.dirs.set(dir, { watcher, only: onlyName ? new Set([onlyName]) : undefined });
    return !onlyName;
  }

  private onEvent(dir: string, event: string, name: string | Buffer | null): void {
    const entry = this.dirs.get(dir);
    if (!entry) return;
    if (name === null) {
      // No name (an overflowed queue, or the directory itself): re-check the directory's entries we know.
      this.on.dirGone(dir);
      return;
    }
    const n = name.toString();
    if (entry.only && !entry.only.has(n)) return;
    const path = join(dir, n);
    this.on.changed(path);
    // Creation, deletion and renames arrive as "rename": a directory may have come or gone (an
    // awaited ~/.ssh too, whose files are then watched like any root's).
    if (event === "rename") void this.check(path);
    // The directory's own deletion or move is reported on its watch under its own name.
    if (n === basename(dir)) void this.check(dir);
  }

  /** Starts watching a directory that appeared (and reports what is already in it), or drops one that went. */
  private async check(path: string): Promise<void> {
    const st = await lstat(path).catch(() => undefined);
    if (this.closed) return;
    if (st?.isDirectory()) {
      if (this.dirs.has(path)) return;
      const found: string[] = [];
      await this.walk(path, found);
      for (const p of found) this.on.changed(p);
      return;
    }
    // Directories under it were only ever watched after it: none is known when it is not.
    if (!this.dirs.has(path)) return;
    for (const [dir, w] of this.dirs) {
      if (w.only || !isUnder(dir, path)) continue;
      w.watcher.close();
      this.dirs.delete(dir);
    }
    this.on.dirGone(path);
  }
}
