import type { Stats } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomicAsync } from "../../platform/linux/atomic-file";

/** What the sensor knows about one watched file: its identity, attributes and content hash. */
export interface FileRecord {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  /** Changes on any write or attribute change and cannot be set by touch: catches a write that reset the mtime. */
  ctimeMs: number;
  mode: number;
  uid: number;
  gid: number;
  /** "" for non-regular files (symlinks, FIFOs) and files over the size bound. */
  sha256: string;
}

export function recordFrom(st: Stats, sha256: string): FileRecord {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, mode: st.mode, uid: st.uid, gid: st.gid, sha256 };
}

/** True when nothing about the file can have changed since the record was taken, so its hash still holds. */
export function unchanged(rec: FileRecord, st: Stats): boolean {
  return rec.ino === st.ino && rec.dev === st.dev && rec.size === st.size && rec.mtimeMs === st.mtimeMs && rec.ctimeMs === st.ctimeMs;
}

export function inodeKey(r: { dev: number; ino: number }): string {
  return `${r.dev}:${r.ino}`;
}

const FILE_NAME = "file-baseline.json";
const VERSION = 1;
type Row = [number, number, number, number, number, number, number, number, string];

/**
 * The baseline on disk, so a restart re-hashes only files whose identity
 * (path, inode, size, mtime, ctime) changed. Rows are arrays to keep the file
 * and its parse small for /etc's thousands of entries.
 */
export class BaselineStore {
  readonly path: string;

  constructor(readonly stateDir: string) {
    this.path = join(stateDir, FILE_NAME);
  }

  /** The saved baseline, or undefined on first run. A corrupt file is reported and treated as absent. */
  async load(): Promise<{ records: Map<string, FileRecord>; problem?: string } | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch {
      return undefined;
    }
    try {
      const doc = JSON.parse(text) as { version?: number; files?: Record<string, Row> };
      if (doc.version !== VERSION || typeof doc.files !== "object" || doc.files === null) throw new Error(`unsupported version ${String(doc.version)}`);
      const records = new Map<string, FileRecord>();
      for (const [path, r] of Object.entries(doc.files)) {
        if (!Array.isArray(r) || r.length !== 9) continue;
        const [dev, ino, size, mtimeMs, ctimeMs, mode, uid, gid, sha256] = r;
        records.set(path, { dev, ino, size, mtimeMs, ctimeMs, mode, uid, gid, sha256 });
      }
      return { records };
    } catch (err) {
      return { records: new Map(), problem: `ignored corrupt ${this.path}: ${(err as Error).message}` };
    }
  }

  /** Writes atomically (temp file + rename) so a crash mid-write leaves the previous baseline. */
  async save(records: ReadonlyMap<string, FileRecord>): Promise<void> {
    const files: Record<string, Row> = {};
    for (const [path, r] of records) files[path] = [r.dev, r.ino, r.size, r.mtimeMs, r.ctimeMs, r.mode, r.uid, r.gid, r.sha256];
    await writeFileAtomicAsync(this.path, JSON.stringify({ version: VERSION, files }));
  }
}
