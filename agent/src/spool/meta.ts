import * as fs from "node:fs";
import * as path from "node:path";
import { COMPACT_EXT, fsyncDir } from "./segment";

/** State that cannot be recovered from the segments alone. */
export interface SpoolMeta {
  /** Everything <= this is acknowledged by the controller. */
  ackedSeq: number;
  /** Highest seq ever assigned, so seqs never repeat even after every segment is deleted. */
  lastSeq: number;
  dropped: Record<string, number>;
  discardedBytes: number;
  /**
   * Acks refused because they were beyond the last seq this spool assigned (a
   * forged or corrupted ack), at run time or found persisted at open.
   */
  acksBeyondLast: number;
  /**
   * Set when a poisoned state was healed with nothing on disk to say what the
   * last seq was: the controller's next ack (below MAX_SEQ) restores the counter
   * once, so no seq it already holds is reused.
   */
  resync?: boolean;
}

const META = "meta.json";
const META_TMP = "meta.json.tmp";
/** Meta that belongs to an in-flight compaction; see `recoverJournal`. */
const META_NEXT = "meta.json.next";

export function emptyMeta(): SpoolMeta {
  return { ackedSeq: 0, lastSeq: 0, dropped: {}, discardedBytes: 0, acksBeyondLast: 0 };
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function parseMeta(text: string): SpoolMeta {
  const raw: unknown = JSON.parse(text);
  if (typeof raw !== "object" || raw === null) throw new Error("not an object");
  const o = raw as Record<string, unknown>;
  if (!isCount(o.ackedSeq) || !isCount(o.lastSeq) || !isCount(o.discardedBytes)) throw new Error("ackedSeq, lastSeq and discardedBytes must be counts");
  if (typeof o.dropped !== "object" || o.dropped === null) throw new Error("dropped must be an object");
  const dropped: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.dropped)) {
    if (!isCount(v)) throw new Error(`dropped.${k} must be a count`);
    dropped[k] = v;
  }
  // Absent in spools written before it existed.
  if (o.acksBeyondLast !== undefined && !isCount(o.acksBeyondLast)) throw new Error("acksBeyondLast must be a count");
  // Seqs are not range-checked here: a poisoned ack is healed by loadState, not thrown away with the drop counts.
  return {
    ackedSeq: o.ackedSeq,
    lastSeq: o.lastSeq,
    dropped,
    discardedBytes: o.discardedBytes,
    acksBeyondLast: (o.acksBeyondLast as number | undefined) ?? 0,
    ...(o.resync === true ? { resync: true } : {}),
  };
}

/**
 * A compaction writes `<seg>.seg.compact`, then `meta.json.next` (with the new
 * drop counts), then renames the segment, then the meta. So at open:
 * a `.compact` file still present means the segment rename never happened and
 * both side files are discarded; `meta.json.next` alone means the segment was
 * replaced and its meta must be promoted. Drop counts thus match the segments
 * after a crash at any point.
 */
export function recoverJournal(dir: string): void {
  const names = fs.readdirSync(dir);
  const compacts = names.filter((n) => n.endsWith(COMPACT_EXT));
  const hasNext = names.includes(META_NEXT);
  if (compacts.length > 0) {
    for (const n of compacts) fs.rmSync(path.join(dir, n), { force: true });
    if (hasNext) fs.rmSync(path.join(dir, META_NEXT), { force: true });
  } else if (hasNext) {
    fs.renameSync(path.join(dir, META_NEXT), path.join(dir, META));
  }
  fs.rmSync(path.join(dir, META_TMP), { force: true });
}

/** Reads the meta file. A damaged one is kept aside (never deleted) and reported. */
export function loadMeta(dir: string): { meta: SpoolMeta; problem?: string } {
  const file = path.join(dir, META);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { meta: emptyMeta() };
    throw err;
  }
  try {
    return { meta: parseMeta(text) };
  } catch (err) {
    const aside = `${file}.corrupt-${Date.now()}`;
    fs.renameSync(file, aside);
    return { meta: emptyMeta(), problem: `unreadable ${META} (${(err as Error).message}); kept as ${path.basename(aside)}, state rebuilt from segments` };
  }
}

function writeVia(dir: string, tmpName: string, meta: SpoolMeta, durable: boolean): string {
  const tmp = path.join(dir, tmpName);
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, JSON.stringify(meta));
    if (durable) fs.fdatasyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return tmp;
}

export function writeMeta(dir: string, meta: SpoolMeta, durable: boolean): void {
  fs.renameSync(writeVia(dir, META_TMP, meta, durable), path.join(dir, META));
  if (durable) fsyncDir(dir);
}

export function writeMetaNext(dir: string, meta: SpoolMeta, durable: boolean): void {
  writeVia(dir, META_NEXT, meta, durable);
}

export function promoteMetaNext(dir: string, durable: boolean): void {
  fs.renameSync(path.join(dir, META_NEXT), path.join(dir, META));
  if (durable) fsyncDir(dir);
}
