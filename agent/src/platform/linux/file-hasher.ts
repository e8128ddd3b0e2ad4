import { createHash } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";

export interface FileHasherOptions {
  /** Files larger than this are not hashed (result ""). Default 64 MiB. */
  maxFileBytes?: number;
  /** Files hashed at the same time. Default 1: hashing is background work. */
  concurrency?: number;
  /** Jobs waiting beyond the running ones; more are refused (result "", counted). Default 1024. */
  maxQueued?: number;
  /** Remembered hashes (LRU). Default 4096. */
  cacheEntries?: number;
}

export type HashOutcome = "hashed" | "cached" | "too-large" | "not-regular" | "queue-full" | "error";

export interface HashResult {
  /** Lower-case hex sha256, or "" when not hashed (see outcome). */
  sha256: string;
  outcome: HashOutcome;
  /** fstat of the file that was hashed; absent when it could not be opened. */
  stats?: Stats;
}

export interface HashOptions {
  /**
   * Reuse a hash remembered for the same (dev, inode, mtime, size). The file
   * sensor turns this off: it decides itself when content may have changed
   * (it also watches ctime, which catches a write that reset the mtime).
   */
  useCache?: boolean;
  /** Refuse to follow a symlink at `path` (the file sensor reports links, it does not hash their targets). */
  noFollow?: boolean;
}

export interface FileHasherStats {
  hashed: number;
  cacheHits: number;
  tooLarge: number;
  refused: number;
  errors: number;
  bytesHashed: number;
  queued: number;
  cached: number;
}

interface Job {
  path: string;
  useCache: boolean;
  noFollow: boolean;
  resolve(result: HashResult): void;
}

const CHUNK_BYTES = 256 * 1024;
/** Cached in place of a hash for files over the bound, so they are not re-opened on every exec. */
const TOO_LARGE = "";
// O_NONBLOCK so that opening a FIFO in a watched directory cannot hang a worker.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/**
 * sha256 of an open file, read from the start in bounded chunks: the one place the agent digests
 * file content (the sensors' FileHasher and evidence collection both come here). Stops with
 * "too-large" once more than `maxBytes` was read, so a file that grows while it is read cannot
 * pin a worker.
 */
export async function sha256OfHandle(handle: FileHandle, maxBytes: number, sizeHint = CHUNK_BYTES): Promise<{ sha256: string; bytes: number } | "too-large"> {
  const digest = createHash("sha256");
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(1, sizeHint)));
  let total = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, 0, buf.length, total);
    if (bytesRead === 0) break;
    digest.update(buf.subarray(0, bytesRead));
    total += bytesRead;
    if (total > maxBytes) return "too-large";
  }
  return { sha256: digest.digest("hex"), bytes: total };
}

export function identityKey(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}`;
}

/**
 * sha256 of files, off the caller's path: a bounded queue feeds a fixed number
 * of workers, so a burst of new executables or files cannot take more than
 * `concurrency` reads at once or grow memory without bound. Hashes are
 * remembered by (dev, inode, mtime, size) so an unchanged file is read once.
 * hash() never rejects: failures come back as sha256 "" with an outcome.
 */
export class FileHasher {
  private readonly maxFileBytes: number;
  private readonly concurrency: number;
  private readonly maxQueued: number;
  private readonly cacheEntries: number;
  private readonly cache = new Map<string, string>();
  private readonly queue: Job[] = [];
  private running = 0;
  private readonly counts = { hashed: 0, cacheHits: 0, tooLarge: 0, refused: 0, errors: 0, bytesHashed: 0 };

  constructor(options: FileHasherOptions = {}) {
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.maxQueued = options.maxQueued ?? 1024;
    this.cacheEntries = options.cacheEntries ?? 4096;
  }

  async hash(path: string, options: HashOptions = {}): Promise<HashResult> {
    const useCache = options.useCache ?? true;
    if (useCache) {
      // A cache hit must not wait behind other jobs nor be refused by a full queue.
      try {
        const st = await stat(path);
        const hit = this.lookup(st);
        if (hit !== undefined) return { sha256: hit, outcome: hit === TOO_LARGE ? "too-large" : "cached", stats: st };
      } catch {
        // Fall through: the worker reports the error with its own open().
      }
    }
    if (this.queue.length >= this.maxQueued) {
      this.counts.refused++;
      return { sha256: "", outcome: "queue-full" };
    }
    return new Promise<HashResult>((resolve) => {
      this.queue.push({ path, useCache, noFollow: options.noFollow ?? false, resolve });
      this.pump();
    });
  }

  stats(): FileHasherStats {
    return { ...this.counts, queued: this.queue.length, cached: this.cache.size };
  }

  private lookup(st: Stats): string | undefined {
    const key = identityKey(st);
    const hit = this.cache.get(key);
    if (hit === undefined) return undefined;
    // Re-insert to mark as recently used.
    this.cache.delete(key);
    this.cache.set(key, hit);
    this.counts.cacheHits++;
    return hit;
  }

  private remember(st: Stats, sha256: string): void {
    this.cache.set(identityKey(st), sha256);
    if (this.cache.size > this.cacheEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  private pump(): void {
    while (this.running < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      void this.run(job).then((result) => {
        this.running--;
        job.resolve(result);
        this.pump();
      });
    }
  }

  private async run(job: Job): Promise<HashResult> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(job.path, job.noFollow ? OPEN_FLAGS | constants.O_NOFOLLOW : OPEN_FLAGS);
      // fstat of the open file: the identity and the content come from the same inode.
      const st = await handle.stat();
      if (!st.isFile()) return { sha256: "", outcome: "not-regular", stats: st };
      if (st.size > this.maxFileBytes) {
        this.counts.tooLarge++;
        this.remember(st, TOO_LARGE);
        return { sha256: "", outcome: "too-large", stats: st };
      }
      if (job.useCache) {
        const hit = this.lookup(st);
        if (hit !== undefined) return { sha256: hit, outcome: hit === TOO_LARGE ? "too-large" : "cached", stats: st };
      }
      const digest = await sha256OfHandle(handle, this.maxFileBytes, st.size);
      // The file grew while we read it: stopped at the bound rather than read forever.
      if (digest === "too-large") {
        this.counts.tooLarge++;
        return { sha256: "", outcome: "too-large", stats: st };
      }
      const { sha256 } = digest;
      this.counts.hashed++;
      this.counts.bytesHashed += digest.bytes;
      this.remember(st, sha256);
      return { sha256, outcome: "hashed", stats: st };
    } catch {
      this.counts.errors++;
      return { sha256: "", outcome: "error" };
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
}
