import { readFileSync, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { describeCgroup, NO_CGROUP, type CgroupFacts } from "./cgroup-layout";
import { Procfs } from "./procfs";

/**
 * The kernel's cgroup id (what bpf_get_current_cgroup_id() returns) named by its path. On cgroup
 * v2 the id of a cgroup is the inode number of its directory under the cgroup2 mount, and the
 * kernel offers userspace no call from id to path, so the agent finds it:
 *  1. from a process that is still alive (the exec'd one or its parent): /proc/<pid>/cgroup names
 *     the path, and a stat of that directory proves its inode is the id asked for;
 *  2. else by walking the mount and noting each directory's inode.
 * Known ids are cached, so a process's exec costs one Map lookup once its cgroup was seen.
 *
 * Bounded against a host that creates cgroups to wear the agent down: the walk visits at most
 * maxEntries directories, maxDepth deep; misses start a walk at most once per interval (others
 * join the walk in flight, or are answered "unknown" at once: the next miss after the interval
 * walks, and finds their cgroup too if it still exists), and the interval doubles, up to
 * maxWalkIntervalMs, while walks find none of the ids they were started for.
 */
export interface CgroupDirectoryOptions {
  /** The cgroup2 mount; default: found in /proc/self/mountinfo (null: none, ids stay unnamed). */
  root?: string | null;
  procRoot?: string;
  /** Directories a walk visits, and ids the cache holds, at most. Default 8192. */
  maxEntries?: number;
  /** Levels below the root a walk descends. Default 16 (a Kubernetes container sits at 4). */
  maxDepth?: number;
  /** Shortest time between two walks. Default 1000 ms. */
  minWalkIntervalMs?: number;
  /** Longest, after walks that found nothing they were started for. Default 60 s. */
  maxWalkIntervalMs?: number;
  now?: () => number;
}

export interface CgroupDirectoryStats {
  /** Ids known now. */
  entries: number;
  walks: number;
  /** A walk stopped at maxEntries: deeper or later cgroups stay unnamed. */
  truncated: boolean;
  /** Ids named from a live process's /proc/<pid>/cgroup, without a walk. */
  fromProc: number;
  /** Ids no means named (gone before they were looked for, or past the walk's bounds). */
  unresolved: number;
  /** Misses answered without a walk because one had just run. */
  deferred: number;
}

interface Entry {
  path: string;
  facts?: CgroupFacts;
}

/** The cgroup2 mount point from mountinfo text; fields after " - " are type, source, options. */
export function cgroup2MountPoint(mountinfo: string): string | null {
  let fallback: string | null = null;
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0 || !line.startsWith("cgroup2 ", sep + 3)) continue;
    const fields = line.slice(0, sep).split(" ");
    const mountPoint = (fields[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (!mountPoint) continue;
    // A bind mount of a subtree (root other than "/") names paths relative to that subtree.
    if (fields[3] === "/") return mountPoint;
    fallback ??= mountPoint;
  }
  return fallback;
}

/** Stats in flight at once during a walk (libuv's pool runs 4; more queue there, not in the agent). */
const STAT_BATCH = 32;

/** Names of the subdirectories of `dir` (one readdir: one trip through the thread pool); [] when it went away. */
async function subdirectories(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).flatMap((d) => (d.isDirectory() ? [d.name] : []));
  } catch {
    return [];
  }
}

function findRoot(procRoot: string): string | null {
  try {
    return cgroup2MountPoint(readFileSync(join(procRoot, "self", "mountinfo"), "utf8"));
  } catch {
    return null;
  }
}

export class CgroupDirectory {
  readonly root: string | null;
  private readonly procfs: Procfs;
  private readonly maxEntries: number;
  private readonly maxDepth: number;
  private readonly minIntervalMs: number;
  private readonly maxIntervalMs: number;
  private readonly now: () => number;
  private byId = new Map<bigint, Entry>();
  private intervalMs: number;
  private lastWalkMs = Number.NEGATIVE_INFINITY;
  private walking: Promise<void> | undefined;
  /** Ids missed since the last walk started: did the next one find any? */
  private missed = new Set<bigint>();
  private readonly counts: Omit<CgroupDirectoryStats, "entries"> = { walks: 0, truncated: false, fromProc: 0, unresolved: 0, deferred: 0 };

  constructor(options: CgroupDirectoryOptions = {}) {
    this.procfs = new Procfs(options.procRoot);
    this.root = options.root === undefined ? findRoot(this.procfs.root) : options.root;
    this.maxEntries = options.maxEntries ?? 8192;
    this.maxDepth = options.maxDepth ?? 16;
    this.minIntervalMs = options.minWalkIntervalMs ?? 1000;
    this.maxIntervalMs = Math.max(this.minIntervalMs, options.maxWalkIntervalMs ?? 60_000);
    this.intervalMs = this.minIntervalMs;
    this.now = options.now ?? Date.now;
  }

  get stats(): CgroupDirectoryStats {
    return { entries: this.byId.size, ...this.counts };
  }

  /** The cached answer, or undefined when this id was not seen yet (then call resolve). */
  lookup(id: bigint): CgroupFacts | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    entry.facts ??= describeCgroup(entry.path);
    return entry.facts;
  }

  /**
   * Names an id not in the cache. `pids` are processes that were in that cgroup (the exec'd one,
   * its parent), read at once while they may still live; NO_CGROUP when nothing names it.
   */
  async resolve(id: bigint, pids: readonly number[] = []): Promise<CgroupFacts> {
    if (this.root === null) return { ...NO_CGROUP };
    for (const pid of pids) {
      if (this.fromProcess(id, pid)) {
        this.counts.fromProc++;
        return this.lookup(id)!;
      }
    }
    this.missed.add(id);
    if (this.missed.size > this.maxEntries) this.missed.clear();
    await this.walkSoon();
    const found = this.lookup(id);
    if (found) return found;
    this.counts.unresolved++;
    return { ...NO_CGROUP };
  }

  /**
   * Names an id not in the cache from a live process in it, at once: one read of /proc/<pid>/cgroup
   * and one stat (what resolve tries first). Undefined when that process does not name it (gone,
   * moved on); no walk is started.
   */
  nameFromProcess(id: bigint, pid: number): CgroupFacts | undefined {
    if (this.root === null || !this.fromProcess(id, pid)) return undefined;
    this.counts.fromProc++;
    return this.lookup(id);
  }

  private fromProcess(id: bigint, pid: number): boolean {
    const text = this.procfs.cgroup(pid);
    const line = text === undefined ? undefined : /^0::(\/[^\n]*)$/m.exec(text);
    if (!line) return false;
    const path = line[1]!;
    if (path.length > 4096) return false;
    try {
      // The process may have moved on since the record: only the directory whose inode IS the id names it.
      if (statSync(join(this.root!, path), { bigint: true }).ino !== id) return false;
    } catch {
      return false;
    }
    this.remember(this.byId, id, path);
    return true;
  }

  private remember(map: Map<bigint, Entry>, id: bigint, path: string): void {
    map.set(id, { path });
    if (map.size > this.maxEntries) map.delete(map.keys().next().value!);
  }

  /** Joins the walk in flight, starts one if the interval allows, else returns at once. */
  private walkSoon(): Promise<void> {
    if (this.walking) return this.walking;
    if (this.now() - this.lastWalkMs < this.intervalMs) {
      this.counts.deferred++;
      return Promise.resolve();
    }
    this.walking = this.walk().finally(() => (this.walking = undefined));
    return this.walking;
  }

  private async walk(): Promise<void> {
    this.lastWalkMs = this.now();
    this.counts.walks++;
    const asked = this.missed;
    this.missed = new Set();
    const fresh = new Map<bigint, Entry>();
    this.counts.truncated = !(await this.visit(fresh));
    this.byId = fresh;
    // Walks that name none of the ids they were started for (cgroups made and removed at once, to
    // keep the agent walking) come ever less often; one that names any puts the interval back.
    const helped = [...asked].some((id) => fresh.has(id));
    this.intervalMs = helped || asked.size === 0 ? this.minIntervalMs : Math.min(this.intervalMs * 2, this.maxIntervalMs);
  }

  /**
   * Breadth first, so the shallow cgroups (slices, services, containers) fit before deep ones; a
   * level's directories are read and stat'ed STAT_BATCH at a time (one at a time, each await is a
   * trip through the thread pool: 285 ms for 1,000 cgroups at load 7). False when cut at maxEntries.
   */
  private async visit(into: Map<bigint, Entry>): Promise<boolean> {
    const root = this.root!;
    try {
      into.set((await stat(root, { bigint: true })).ino, { path: "/" });
    } catch {
      return true;
    }
    let level: string[] = ["/"];
    for (let depth = 1; depth <= this.maxDepth && level.length > 0; depth++) {
      const children: string[] = [];
      let cut = false;
      for (let i = 0; i < level.length && !cut; i += STAT_BATCH) {
        const batch = level.slice(i, i + STAT_BATCH);
        const lists = await Promise.all(batch.map((rel) => subdirectories(join(root, rel))));
        batch.forEach((rel, j) => {
          for (const name of lists[j]!) {
            if (into.size + children.length >= this.maxEntries) {
              cut = true;
              return;
            }
            children.push(rel === "/" ? `/${name}` : `${rel}/${name}`);
          }
        });
      }
      const next: string[] = [];
      for (let i = 0; i < children.length; i += STAT_BATCH) {
        const batch = children.slice(i, i + STAT_BATCH);
        // A cgroup removed meanwhile is simply not named.
        const inodes = await Promise.all(
          batch.map((path) =>
            stat(join(root, path), { bigint: true }).then(
              (st) => st.ino,
              () => undefined,
            ),
          ),
        );
        batch.forEach((path, j) => {
          const ino = inodes[j];
          if (ino === undefined) return;
          into.set(ino, { path });
          next.push(path);
        });
      }
      if (cut) return false;
      level = next;
    }
    return true;
  }
}
