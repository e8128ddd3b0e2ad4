import { UserNames } from "../../platform/linux/users";
import type { FileActor, KernelFileFeed } from "../file/file-sensor";
import type { EbpfHelper } from "./ebpf-helper";
import type { EbpfProcessSensor } from "./ebpf-process-sensor";
import { FILE_OPEN_WRITE } from "./records";
import { cgroupFields } from "../process/cgroup-fields";

export interface FileAttributionOptions {
  /** How long a change is attributed to its writer. Default 30 s (the file sensor reports within ~1 s). */
  ttlMs?: number;
  /** Paths remembered at most. Default 10,000. */
  maxPaths?: number;
  passwdPath?: string;
}

/**
 * Remembers, per path, the last process the kernel saw open it for writing, rename, unlink or
 * chmod it, so the file sensor's event (which knows what changed and its hashes) can name who
 * changed it — also when the writer lived 2 ms. Bounded and time-limited: a process writing a
 * million temp files only evicts older entries.
 */
export class FileAttribution implements KernelFileFeed {
  private readonly changeListeners = new Set<(path: string, written: boolean) => void>();
  private readonly byPath = new Map<string, FileActor & { atMs: number }>();
  private readonly ttlMs: number;
  private readonly maxPaths: number;
  private readonly users: UserNames;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly helper: EbpfHelper,
    private readonly processes: EbpfProcessSensor,
    options: FileAttributionOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.maxPaths = options.maxPaths ?? 10_000;
    this.users = new UserNames(options.passwdPath);
  }

  start(): void {
    this.unsubscribe ??= this.helper.subscribe((r) => {
      if (r.kind !== "file") return;
      const actor = {
        pid: r.task.pid,
        exe: this.processes.actor(r.task)?.exe ?? "",
        user: this.users.name(r.task.uid),
        ...cgroupFields(this.processes.placeOf(r.task)),
        atMs: Date.now(),
      };
      this.remember(r.path, actor);
      if (r.path2) this.remember(r.path2, actor);
      for (const l of this.changeListeners) {
        l(r.path, r.op === FILE_OPEN_WRITE);
        if (r.path2) l(r.path2, false);
      }
    });
  }

  /** Starts the helper if no sensor did yet (it starts once); true when it runs. */
  async ready(): Promise<boolean> {
    return (await this.helper.start()) === undefined && this.helper.status === "";
  }

  onChange(listener: (path: string, written: boolean) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** The last writer of `path` within the time limit. */
  lookup(path: string): FileActor | undefined {
    const hit = this.byPath.get(path);
    if (!hit || Date.now() - hit.atMs > this.ttlMs) return undefined;
    const { atMs: _atMs, ...actor } = hit;
    return actor;
  }

  private remember(path: string, actor: FileActor & { atMs: number }): void {
    this.byPath.delete(path);
    this.byPath.set(path, actor);
    for (const [p, a] of this.byPath) {
      if (this.byPath.size <= this.maxPaths && actor.atMs - a.atMs <= this.ttlMs) break;
      this.byPath.delete(p);
    }
  }
}
