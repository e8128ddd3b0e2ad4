import { type FSWatcher, promises as fsp, type Stats, watch } from "node:fs";
import path from "node:path";
import { type LinesHandler, TailReader } from "./tail-reader";
import { type TailState, fingerprint, loadTailState, saveTailState } from "./tail-state";

export interface FileTailerOptions {
  path: string;
  /** Receives complete lines in file order. The offset is saved after it returns. */
  onLines: LinesHandler;
  /** Where the offset is persisted; without it the tailer forgets on restart. */
  statePath?: string;
  /** Default 250 ms. Polling, because fs.watch loses track of a file across rename. */
  pollMs?: number;
  /**
   * Also wake on the kernel's change notices for the file's directory (inotify), so a line is
   * read as soon as it is written instead of at the next poll. Default true; polling stays.
   */
  wake?: boolean;
  /** With no saved state, read the existing content too (default: start at the end). */
  fromStart?: boolean;
  /** Longer lines are cut to this many bytes. Default 16 KiB. */
  maxLineBytes?: number;
  /** Bytes per read. Default 64 KiB. */
  chunkBytes?: number;
  /** A rotated-away file is read until it has not grown for this long. Default 2 s. */
  rotateGraceMs?: number;
  /** Called when the tailer's condition changes: "" when healthy, else why not. */
  onStatus?: (problem: string, code?: string) => void;
}

/**
 * Follows a log file the way `tail -F` does, and remembers where it was.
 * Rotation (rename + new file): the old file is read to its end, then the new
 * one from byte 0. Truncation (size below our offset, or the first bytes
 * changed): read again from byte 0.
 */
export class FileTailer {
  private current: TailReader | null = null;
  /** Files rotated away that the writer may still be finishing. */
  private retired: TailReader[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inflight: Promise<void> | null = null;
  /** A change notice came while a cycle ran: run one more when it ends. */
  private again = false;
  private watcher: FSWatcher | null = null;
  private stopped = true;
  private started = false;
  /** Only the very first open honours fromStart=false; a file that appears later is new, read it all. */
  private firstOpen = true;
  private saved: TailState | null = null;
  private lastSize = -1;
  private problem = "";
  /** Saving the offset failed: lines still flow, but a restart would re-read them. */
  private stateProblem = "";
  private readonly pollMs: number;
  private readonly maxLineBytes: number;
  private readonly chunkBytes: number;
  private readonly graceMs: number;

  constructor(private readonly opts: FileTailerOptions) {
    this.pollMs = opts.pollMs ?? 250;
    this.maxLineBytes = opts.maxLineBytes ?? 16 * 1024;
    this.chunkBytes = opts.chunkBytes ?? 64 * 1024;
    this.graceMs = opts.rotateGraceMs ?? 2000;
  }

  get path(): string {
    return this.opts.path;
  }

  /** Byte offset of the last line handed over in the current file. */
  get offset(): number {
    return this.current?.committed ?? 0;
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.stopped = false;
    if (this.opts.statePath) {
      const { state, problem } = await loadTailState(this.opts.statePath);
      if (problem) this.setProblem(problem, "ESTATE");
      if (state && state.path === this.opts.path) this.saved = state;
    }
    await this.poll();
    this.schedule();
    this.watchDir();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unwatch();
    await this.inflight;
    for (const r of [...this.retired, ...(this.current ? [this.current] : [])]) await r.close();
    this.retired = [];
    this.current = null;
    this.started = false;
  }

  /** One check-and-read cycle; the timer runs it every pollMs. Never overlaps itself. */
  poll(): Promise<void> {
    if (!this.inflight) {
      this.inflight = this.cycle().finally(() => {
        this.inflight = null;
        if (this.again && !this.stopped) {
          this.again = false;
          void this.poll();
        }
      });
    }
    return this.inflight;
  }

  /** The directory, not the file: a notice must still come after logrotate renames the file away. */
  private watchDir(): void {
    if (this.opts.wake === false || this.watcher || this.stopped) return;
    const base = path.basename(this.opts.path);
    try {
      this.watcher = watch(path.dirname(this.opts.path), { persistent: false }, (_event, name) => {
        if (name !== null && name !== base) return;
        if (this.inflight) this.again = true;
        else void this.poll();
      });
      // Lost (directory gone, out of watches): the poll timer carries on alone.
      this.watcher.on("error", () => this.unwatch());
    } catch {
      this.watcher = null;
    }
  }

  private unwatch(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule());
    }, this.pollMs);
    this.timer.unref();
  }

  private async cycle(): Promise<void> {
    if (this.stopped) return;
    try {
      const st = await this.statPath();
      if (st && (!this.current || st.ino !== this.current.ino || st.dev !== this.current.dev)) {
        await this.switchTo();
      } else if (st && this.current) {
        await this.checkTruncation(st);
      }
      // Rotated-away files hold older lines than the current one: read them first.
      await this.drainRetired();
      // The stat is the cheap check: read only when the file grew (or was renamed away).
      const grew = !st || !this.current || st.size !== this.current.position;
      if (this.current && grew && (await this.current.drain(this.opts.onLines, () => this.stopped))) await this.persist();
      if (st) this.setProblem(this.stateProblem);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.setProblem(describe(this.opts.path, e), e.code ?? "ERROR");
    }
  }

  private async statPath(): Promise<Stats | null> {
    try {
      return await fsp.stat(this.opts.path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // Gone: renamed by logrotate and not yet recreated. Keep reading the open one.
      if (e.code === "ENOENT" && this.current) return null;
      if (e.code === "ENOENT") {
        this.firstOpen = false; // whatever appears here later is new: read all of it
        this.setProblem(`waiting for ${this.opts.path} to appear`, "ENOENT");
        return null;
      }
      throw e;
    }
  }

  /** A (new) file sits at the path: finish the old one, then open this one. */
  private async switchTo(): Promise<void> {
    const fh = await fsp.open(this.opts.path, "r");
    let reader: TailReader | null = null;
    try {
      const real = await fh.stat(); // the file we actually opened, if it changed since stat()
      reader = new TailReader(fh, real.dev, real.ino, 0, this.chunkBytes, this.maxLineBytes);
      if (this.current) {
        await this.current.drain(this.opts.onLines, () => this.stopped);
        this.retired.push(this.current);
      } else {
        await this.placeFirst(reader, real);
      }
      this.current = reader;
      this.lastSize = real.size;
      this.firstOpen = false;
      this.saved = null;
      await this.persist();
    } catch (err) {
      if (reader !== this.current) await fh.close().catch(() => undefined);
      throw err;
    }
  }

  /** Where to begin in the first file we open: saved offset, rotated leftovers, start or end. */
  private async placeFirst(reader: TailReader, st: Stats): Promise<void> {
    const saved = this.saved;
    if (saved && saved.dev === st.dev && saved.ino === st.ino) {
      if (st.size >= saved.offset && (await fingerprint(reader.fh, saved.fpLen)) === saved.fp) {
        reader.resumeAt(saved.offset, saved.fpLen, saved.fp);
      }
      return; // same inode but shrunk or rewritten: it was truncated while we were down; read from 0
    }
    if (saved) {
      // Rotated while we were down: finish the old file if it is still beside the new one.
      const old = await this.findRotated(saved);
      if (old) this.retired.push(old);
      return;
    }
    if (this.firstOpen && !this.opts.fromStart && st.size > 0) await reader.startAtEnd(st.size);
  }

  /**
   * logrotate renames auth.log to auth.log.1 (Debian) or secure-YYYYMMDD (RHEL
   * dateext). Finds the file with the saved inode among those siblings.
   */
  private async findRotated(saved: TailState): Promise<TailReader | null> {
    const dir = path.dirname(this.opts.path);
    const base = path.basename(this.opts.path);
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!(name.startsWith(`${base}.`) || name.startsWith(`${base}-`)) || name.endsWith(".gz")) continue;
      const full = path.join(dir, name);
      const st = await fsp.stat(full).catch(() => null);
      if (!st || st.dev !== saved.dev || st.ino !== saved.ino || st.size < saved.offset) continue;
      const fh = await fsp.open(full, "r").catch(() => null);
      if (!fh) return null;
      if ((await fingerprint(fh, saved.fpLen)) !== saved.fp) {
        await fh.close();
        return null;
      }
      const r = new TailReader(fh, st.dev, st.ino, saved.offset, this.chunkBytes, this.maxLineBytes);
      r.resumeAt(saved.offset, saved.fpLen, saved.fp);
      r.lastGrowthMs = 0; // nobody writes to it any more: read it out and close it
      return r;
    }
    return null;
  }

  private async checkTruncation(st: Stats): Promise<void> {
    const cur = this.current!;
    const changed = st.size !== this.lastSize;
    this.lastSize = st.size;
    if (st.size < cur.position || (changed && !(await cur.sameContent()))) {
      cur.restart();
      await this.persist();
    }
  }

  private async drainRetired(): Promise<void> {
    const keep: TailReader[] = [];
    for (const r of this.retired) {
      await r.drain(this.opts.onLines, () => this.stopped);
      if (Date.now() - r.lastGrowthMs < this.graceMs && !this.stopped) {
        keep.push(r);
      } else {
        await r.flush(this.opts.onLines);
        await r.close();
      }
    }
    this.retired = keep;
  }

  private async persist(): Promise<void> {
    const cur = this.current;
    if (!this.opts.statePath || !cur) return;
    const state = { path: this.opts.path, dev: cur.dev, ino: cur.ino, offset: cur.committed, fpLen: cur.fpLen, fp: cur.fp };
    try {
      await saveTailState(this.opts.statePath, state);
      this.stateProblem = "";
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.stateProblem = `cannot save offset to ${this.opts.statePath}: ${e.code ?? e.message}`;
      this.setProblem(this.stateProblem, e.code ?? "ESTATE");
    }
  }

  private setProblem(problem: string, code?: string): void {
    if (problem === this.problem) return;
    this.problem = problem;
    this.opts.onStatus?.(problem, code);
  }
}

function describe(file: string, e: NodeJS.ErrnoException): string {
  if (e.code === "EACCES" || e.code === "EPERM") return `cannot read ${file}: ${e.code} (run as root)`;
  return `cannot read ${file}: ${e.code ?? ""} ${e.message}`.trim();
}
