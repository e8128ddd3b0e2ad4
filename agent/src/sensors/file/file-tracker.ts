import { lstat } from "node:fs/promises";
import { FileAction, type FileEvent } from "@vigil/proto";
import type { FileHasher } from "../../platform/linux/file-hasher";
import { inodeKey, recordFrom, unchanged, type FileRecord } from "./baseline-store";

export type FileEmit = (event: FileEvent, timeMs: number) => void;

interface PendingDelete {
  path: string;
  rec: FileRecord;
  timer: NodeJS.Timeout;
}

/** ctime is when the kernel applied the change; fall back to now if the clock disagrees. */
function changeTime(rec: FileRecord): number {
  const now = Date.now();
  return rec.ctimeMs > 0 && rec.ctimeMs <= now ? Math.round(rec.ctimeMs) : now;
}

/** The process that wrote a file, as the kernel feed named it, and where it runs (container, unit). */
export type Writer = Pick<FileEvent, "pid" | "exe" | "user" | "cgroupPath" | "containerId" | "containerRuntime" | "podUid" | "systemdUnit">;

export function fileEvent(action: FileAction, path: string, rec: FileRecord, before: { oldPath?: string; sha256?: string; mode?: number } = {}): FileEvent {
  return {
    action,
    path,
    oldPath: before.oldPath ?? "",
    sha256Before: before.sha256 ?? "",
    sha256After: action === FileAction.FILE_ACTION_DELETE ? "" : rec.sha256,
    size: rec.size,
    mode: rec.mode,
    uid: rec.uid,
    gid: rec.gid,
    mtimeMs: Math.round(rec.mtimeMs),
    modeBefore: before.mode ?? 0,
    pid: 0,
    exe: "",
    user: "",
    cgroupPath: "",
    containerId: "",
    containerRuntime: "",
    podUid: "",
    systemdUnit: "",
  };
}

/**
 * Knows the last state of every watched file and turns "something happened
 * at this path" into at most one event, by comparing a fresh lstat (and, when
 * the identity changed, a fresh hash) with that state. Watcher notifications
 * are only hints: this is why duplicate, missing or reordered notifications
 * do not produce wrong events.
 */
export class FileTracker {
  readonly records = new Map<string, FileRecord>();
  private readonly byInode = new Map<string, string>();
  private readonly pendingDeletes = new Map<string, PendingDelete>();
  /** Bumped on every change to `records`, so the owner knows when the saved baseline is stale. */
  version = 0;

  constructor(
    private readonly hasher: FileHasher,
    private readonly emit: FileEmit,
    /** How long a deleted file waits for its inode to reappear under another name (a rename). */
    private readonly renameWindowMs: number,
  ) {}

  set(path: string, rec: FileRecord): void {
    const old = this.records.get(path);
    if (old && this.byInode.get(inodeKey(old)) === path) this.byInode.delete(inodeKey(old));
    this.records.set(path, rec);
    this.byInode.set(inodeKey(rec), path);
    this.version++;
  }

  remove(path: string): FileRecord | undefined {
    const rec = this.records.get(path);
    if (!rec) return undefined;
    this.records.delete(path);
    if (this.byInode.get(inodeKey(rec)) === path) this.byInode.delete(inodeKey(rec));
    this.version++;
    return rec;
  }

  /**
   * Current record for `path`: undefined if it is gone, null for directories.
   * `reuse` supplies the hash when the identity matches, so unchanged files are not read.
   */
  async measure(path: string, reuse?: FileRecord): Promise<FileRecord | null | undefined> {
    const st = await lstat(path).catch(() => undefined);
    if (!st) return undefined;
    if (st.isDirectory()) return null;
    if (!st.isFile()) return recordFrom(st, "");
    if (reuse && reuse.sha256 !== "" && unchanged(reuse, st)) return recordFrom(st, reuse.sha256);
    const r = await this.hasher.hash(path, { useCache: false, noFollow: true });
    // Prefer the fstat taken with the content; fall back to lstat when the file could not be opened.
    return r.stats && r.stats.ino === st.ino ? recordFrom(r.stats, r.sha256) : recordFrom(st, r.sha256);
  }

  /**
   * `writer`: the kernel saw the path opened for writing since the last look, by that process
   * (null when it could not be named); see transient.
   */
  async examine(path: string, writer?: Writer | null): Promise<void> {
    const rec = this.records.get(path);
    const st = await lstat(path).catch(() => undefined);
    if (!st) {
      if (rec) this.deleteLater(path, this.remove(path)!);
      else if (writer !== undefined) this.transient(path, writer);
      return;
    }
    if (st.isDirectory() || (rec && unchanged(rec, st))) return;
    const next = await this.measure(path);
    if (!next) return; // gone again or a directory: the next notification settles it
    const moved = rec && inodeKey(rec) === inodeKey(next) ? undefined : await this.movedFrom(next, path);
    this.set(path, next);
    const t = changeTime(next);
    if (moved) {
      // A plain rename carries the moved file's old hash; a rename over an existing file carries the replaced content.
      const before = rec ?? moved.rec;
      this.emit(fileEvent(FileAction.FILE_ACTION_RENAME, path, next, { oldPath: moved.path, sha256: before.sha256, mode: before.mode }), t);
    } else if (!rec) {
      this.emit(fileEvent(FileAction.FILE_ACTION_CREATE, path, next), t);
    } else if (contentChanged(rec, next)) {
      this.emit(fileEvent(FileAction.FILE_ACTION_MODIFY, path, next, { sha256: rec.sha256, mode: rec.mode }), t);
    } else if (rec.mode !== next.mode || rec.uid !== next.uid || rec.gid !== next.gid) {
      // Ownership changes are reported as CHMOD too: the contract has no separate CHOWN.
      this.emit(fileEvent(FileAction.FILE_ACTION_CHMOD, path, next, { sha256: rec.sha256, mode: rec.mode }), t);
    }
  }

  /**
   * A file written and removed before it could be read (a dropper's `echo lib > /etc/ld.so.preload;
   * …; rm`): its content is lost, but not the fact. Reported as CREATE then DELETE with no hash, so
   * rules on the path still see it.
   */
  private transient(path: string, writer: Writer | null): void {
    const now = Date.now();
    const rec: FileRecord = { dev: 0, ino: 0, size: 0, mtimeMs: now, ctimeMs: now, mode: 0, uid: 0, gid: 0, sha256: "" };
    this.emit({ ...fileEvent(FileAction.FILE_ACTION_CREATE, path, rec), ...(writer ?? {}) }, now);
    this.emitDelete(path, rec);
  }

  /** Emits every DELETE still waiting for a possible rename (on stop). */
  flushDeletes(): void {
    for (const [key, p] of this.pendingDeletes) {
      clearTimeout(p.timer);
      this.pendingDeletes.delete(key);
      this.emitDelete(p.path, p.rec);
    }
  }

  emitDelete(path: string, rec: FileRecord): void {
    this.emit(fileEvent(FileAction.FILE_ACTION_DELETE, path, rec, { sha256: rec.sha256, mode: rec.mode }), Date.now());
  }

  private deleteLater(path: string, rec: FileRecord): void {
    const key = inodeKey(rec);
    const timer = setTimeout(() => {
      this.pendingDeletes.delete(key);
      this.emitDelete(path, rec);
    }, this.renameWindowMs);
    timer.unref();
    this.pendingDeletes.set(key, { path, rec, timer });
  }

  /** The old name of a file that arrived at `path` by rename, if its inode was known under another name. */
  private async movedFrom(next: FileRecord, path: string): Promise<{ path: string; rec: FileRecord } | undefined> {
    const key = inodeKey(next);
    const pending = this.pendingDeletes.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.pendingDeletes.delete(key);
      return { path: pending.path, rec: pending.rec };
    }
    // The new name may be noticed before the old name's removal: check the old name is really gone.
    const oldPath = this.byInode.get(key);
    if (oldPath === undefined || oldPath === path) return undefined;
    const now = await lstat(oldPath).catch(() => undefined);
    if (now && inodeKey(now) === key) return undefined; // a hard link, not a move
    const rec = this.remove(oldPath)!;
    return { path: oldPath, rec };
  }
}

function contentChanged(a: FileRecord, b: FileRecord): boolean {
  // Without hashes (unreadable or too large) size and mtime are all there is.
  if (a.sha256 === "" || b.sha256 === "") return a.size !== b.size || a.mtimeMs !== b.mtimeMs || a.ino !== b.ino;
  return a.sha256 !== b.sha256;
}
