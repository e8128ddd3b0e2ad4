import { join, normalize } from "node:path";
import { watch, type FSWatcher } from "chokidar";
import { FileAction, type FileEvent } from "@vigil/proto";
import { FileHasher } from "../../platform/linux/file-hasher";
import { SensorCounters, type EventSink, type Sensor, type SensorHealth } from "../sensor";
import { BaselineStore, type FileRecord } from "./baseline-store";
import { DirectoryWatcher } from "./directory-watcher";
import { FileTracker, fileEvent, type Writer } from "./file-tracker";
import { PathQueue } from "./path-queue";
import { DEFAULT_WATCH_PATHS, isUnder, resolveWatchRoots } from "./watch-paths";

/** Paths remembered as "written by the kernel, not examined yet" at most. */
const MAX_KERNEL_WRITTEN = 10_000;

/** The process that last changed a path, as the kernel sensor saw it, and where it runs. */
export type FileActor = Writer;

/** A kernel feed of file changes (sensors/ebpf/file-attribution.ts): which paths were written, renamed, unlinked or chmod'ed. */
export interface KernelFileFeed {
  /** Resolves true when the feed runs (starting it if needed), false when it cannot. */
  ready(): Promise<boolean>;
  /** Calls `listener` with each path (as the process named it) the kernel saw changed under the watched prefixes. */
  /** `written`: the kernel saw the path opened for writing (as opposed to unlinked, renamed or chmod'ed). */
  onChange(listener: (path: string, written: boolean) => void): () => void;
}

export interface FileSensorOptions {
  /**
   * Who changed a path, when a kernel feed knows (see sensors/ebpf/file-attribution.ts): inotify
   * says what changed, never who.
   */
  attribute?: (path: string) => FileActor | undefined;
  /**
   * When given and running, changes come from it plus one inotify watch per directory, instead of
   * chokidar's watch and Stats per file (docs/benchmarks.md, "Where the agent's memory is").
   */
  kernel?: KernelFileFeed;
  /** Paths to watch; "*" segments are expanded once at start. Default DEFAULT_WATCH_PATHS. */
  paths?: readonly string[];
  /** Where the hash baseline is kept across restarts; without it every start hashes everything. */
  stateDir?: string;
  /** Report what changed while the agent was not running (needs stateDir). Default true. */
  reportOfflineChanges?: boolean;
  /** Quiet time after a notification before the path is examined; absorbs bursts of writes. Default 50 ms. */
  settleMs?: number;
  /** How long a delete waits for the same inode to reappear as a rename. Default 500 ms. */
  renameWindowMs?: number;
  /** Shared hasher; one is created when absent. */
  hasher?: FileHasher;
}

const BASELINE_WORKERS = 2;
const PERSIST_EVERY_MS = 10_000;

/**
 * Changes to files under the watched paths. The kernel feed with directory watches, or else
 * chokidar (inotify through fs.watch, never polling), says *where* to look; FileTracker decides
 * *what* happened by comparing with the hash baseline, so the two give the same events.
 */
export class FileSensor implements Sensor {
  readonly name = "file";
  private readonly counters = new SensorCounters();
  private readonly hasher: FileHasher;
  private readonly tracker: FileTracker;
  private readonly queue: PathQueue;
  private readonly store: BaselineStore | undefined;
  private watcher: FSWatcher | undefined;
  private dirWatcher: DirectoryWatcher | undefined;
  private stopKernel: (() => void) | undefined;
  private sink: EventSink | undefined;
  private roots: string[] = [];
  private absent: string[] = [];
  private savedVersion = -1;
  private summary = "";
  private persistTimer: NodeJS.Timeout | undefined;
  private ready = false;
  private readonly early = new Set<string>();
  /**
   * Paths the kernel saw opened for writing and not examined since, with their writer as known at
   * that moment (a later unlink names its own process): one gone by then was a transient file.
   */
  private readonly kernelWritten = new Map<string, FileActor | undefined>();

  constructor(private readonly options: FileSensorOptions = {}) {
    this.hasher = options.hasher ?? new FileHasher();
    this.tracker = new FileTracker(this.hasher, (e, t) => this.emit(e, t), options.renameWindowMs ?? 500);
    this.queue = new PathQueue(
      options.settleMs ?? 50,
      (p) => {
        const writer = this.kernelWritten.get(p);
        return this.tracker.examine(p, this.kernelWritten.delete(p) ? (writer ?? null) : undefined);
      },
      (err) => this.fail(`examine failed: ${(err as Error).message}`),
    );
    this.store = options.stateDir ? new BaselineStore(options.stateDir) : undefined;
  }

  /** Resolves once the baseline is complete and every watch is in place. */
  async start(sink: EventSink): Promise<void> {
    if (this.counters.running) return;
    this.sink = sink;
    this.counters.running = true;
    const { present, absent, awaited } = resolveWatchRoots(this.options.paths ?? DEFAULT_WATCH_PATHS);
    // An awaited path is a root like any other: its creation is reported (there is no baseline entry for it).
    this.roots = [...present, ...awaited];
    this.absent = absent;
    this.describe();
    if (this.roots.length === 0) return;

    const kernel = this.options.kernel && (await this.options.kernel.ready()) ? this.options.kernel : undefined;
    // chokidar cannot wait for a file that does not exist: awaited paths get a watch on their directory for that name.
    const initial = kernel ? await this.watchDirectories(this.roots, kernel) : [...(await this.watchFiles(present)), ...(await this.watchAwaited(awaited))];
    this.describe();

    await this.buildBaseline(initial);
    this.ready = true;
    for (const p of this.early) this.queue.schedule(p);
    this.early.clear();
    await this.persist();
    this.persistTimer = setInterval(() => void this.persist(), PERSIST_EVERY_MS);
    this.persistTimer.unref();
  }

  async stop(): Promise<void> {
    if (!this.counters.running) return;
    this.counters.running = false;
    if (this.persistTimer) clearInterval(this.persistTimer);
    this.stopKernel?.();
    this.dirWatcher?.close();
    await this.watcher?.close();
    await this.queue.close();
    this.tracker.flushDeletes();
    await this.persist();
    this.sink = undefined;
  }

  health(): SensorHealth {
    return this.counters.snapshot(this.name);
  }

  stats(): { files: number; roots: string[]; absent: string[] } {
    return { files: this.tracker.records.size, roots: this.roots, absent: this.absent };
  }

  /** chokidar: a watch per file and directory; resolves with the files present, once all are watched. */
  private async watchFiles(roots: string[]): Promise<string[]> {
    if (roots.length === 0) return []; // chokidar never becomes ready with nothing to watch
    const initial: string[] = [];
    const watcher = watch(roots, {
      persistent: true,
      ignoreInitial: false,
      // Links are reported as links: following them would pull in whole trees such as /usr/share/ca-certificates.
      followSymlinks: false,
      usePolling: false,
      // Our tracker does its own rename/atomic-save handling; chokidar's would hide the unlink.
      atomic: false,
    });
    this.watcher = watcher;
    watcher.on("add", (p: string) => (this.ready ? this.notify(p) : initial.push(p)));
    watcher.on("change", (p: string) => this.notify(p));
    watcher.on("unlink", (p: string) => this.notify(p));
    watcher.on("unlinkDir", (dir: string) => this.notifyUnder(dir));
    // chokidar drops attribute-only changes when atime > mtime (see its handler); raw events still arrive.
    watcher.on("raw", (_event, evPath, details) => this.onRaw(evPath, (details as { watchedPath?: string } | undefined)?.watchedPath));
    watcher.on("error", (err: unknown) => this.fail(`watcher: ${(err as Error).message}`));
    await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
    return initial;
  }

  /**
   * The kernel names each path written, renamed, unlinked or chmod'ed under the prefixes, with no
   * watch per file; directory watches catch what its tracepoints cannot (see DirectoryWatcher).
   * Both are hints to the same tracker, so a change seen twice is still one event.
   */
  private async watchDirectories(roots: string[], kernel: KernelFileFeed): Promise<string[]> {
    this.stopKernel = kernel.onChange((p, written) => {
      const path = normalize(p);
      if (!this.roots.some((r) => isUnder(path, r))) return;
      if (written) {
        // Bounded like the queue it feeds: a flood of distinct paths forgets the oldest marks, never grows.
        if (this.kernelWritten.size >= MAX_KERNEL_WRITTEN) this.kernelWritten.delete(this.kernelWritten.keys().next().value as string);
        this.kernelWritten.set(path, this.options.attribute?.(path));
      }
      this.notify(path);
    });
    this.dirWatcher = this.newDirectoryWatcher();
    // Entries found at start are the baseline; the tracker knows nothing yet, so nothing is notified for them.
    return this.dirWatcher.start(roots);
  }

  private async watchAwaited(paths: string[]): Promise<string[]> {
    if (paths.length === 0) return [];
    this.dirWatcher = this.newDirectoryWatcher();
    return this.dirWatcher.start(paths);
  }

  private newDirectoryWatcher(): DirectoryWatcher {
    return new DirectoryWatcher({
      changed: (p) => this.notify(p),
      dirGone: (dir) => this.notifyUnder(dir),
      error: (message) => this.fail(`watcher: ${message}`),
    });
  }

  private notifyUnder(dir: string): void {
    for (const p of this.tracker.records.keys()) if (isUnder(p, dir)) this.notify(p);
  }

  private notify(path: string): void {
    if (!this.counters.running) return;
    if (this.ready) this.queue.schedule(path);
    else this.early.add(path);
  }

  private onRaw(evPath: string, watchedPath: string | undefined): void {
    if (!watchedPath) return;
    const records = this.tracker.records;
    if (records.has(watchedPath)) this.notify(watchedPath);
    else if (evPath && records.has(join(watchedPath, evPath))) this.notify(join(watchedPath, evPath));
  }

  private async buildBaseline(paths: string[]): Promise<void> {
    const loaded = this.store ? await this.store.load() : undefined;
    if (loaded?.problem) this.fail(loaded.problem);
    const saved = loaded?.records ?? new Map<string, FileRecord>();
    const offline = loaded !== undefined && (this.options.reportOfflineChanges ?? true);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < paths.length) {
        const path = paths[next++]!;
        const before = saved.get(path);
        const rec = await this.tracker.measure(path, before);
        if (!rec) continue;
        this.tracker.set(path, rec);
        if (offline) this.reportOffline(path, before, rec);
      }
    };
    await Promise.all(Array.from({ length: BASELINE_WORKERS }, worker));
    if (!offline) return;
    for (const [path, rec] of saved) {
      if (!this.tracker.records.has(path) && this.roots.some((r) => isUnder(path, r))) this.tracker.emitDelete(path, rec);
    }
  }

  private reportOffline(path: string, before: FileRecord | undefined, now: FileRecord): void {
    const t = Math.min(Math.round(now.ctimeMs), Date.now());
    if (!before) this.emit(fileEvent(FileAction.FILE_ACTION_CREATE, path, now), t);
    else if (before.sha256 !== now.sha256 || (now.sha256 === "" && (before.size !== now.size || before.mtimeMs !== now.mtimeMs)))
      this.emit(fileEvent(FileAction.FILE_ACTION_MODIFY, path, now, { sha256: before.sha256, mode: before.mode }), t);
    else if (before.mode !== now.mode || before.uid !== now.uid || before.gid !== now.gid)
      this.emit(fileEvent(FileAction.FILE_ACTION_CHMOD, path, now, { sha256: before.sha256, mode: before.mode }), t);
  }

  private async persist(): Promise<void> {
    const version = this.tracker.version;
    if (!this.store || version === this.savedVersion) return;
    try {
      await this.store.save(this.tracker.records);
      this.savedVersion = version;
    } catch (err) {
      this.fail(`cannot save baseline: ${(err as Error).message}`);
    }
  }

  private emit(file: FileEvent, timeMs: number): void {
    const sink = this.sink;
    if (!sink) return;
    const actor = this.options.attribute?.(file.path) ?? (file.oldPath ? this.options.attribute?.(file.oldPath) : undefined);
    // An event that already names its process (a transient file's writer) keeps it.
    if (actor && file.exe === "") Object.assign(file, actor);
    try {
      sink.emit({ $case: "file", file }, timeMs);
      this.counters.events++;
    } catch (err) {
      this.fail(`emit failed: ${(err as Error).message}`);
    }
  }

  private describe(): void {
    const shown = this.roots.slice(0, 8).join(", ") + (this.roots.length > 8 ? `, … (${this.roots.length - 8} more)` : "");
    const parts = [`watching ${this.roots.length} path(s) (${shown}) for creation, change, deletion, mode changes`];
    if (this.dirWatcher) parts.push(`changes from the kernel feed and ${this.dirWatcher.directories} directory watches`);
    if (this.absent.length > 0) parts.push(`absent: ${this.absent.join(", ")}`);
    if (!this.store) parts.push("no state dir: baseline is rebuilt at every start");
    this.summary = parts.join("; ");
    this.counters.detail = this.summary;
  }

  /** Counts the error and shows the latest one after the standing summary (absent paths stay visible). */
  private fail(message: string): void {
    this.counters.errors++;
    this.counters.detail = this.summary ? `${this.summary}; last error: ${message}` : message;
  }
}
