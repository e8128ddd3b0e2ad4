import * as fs from "node:fs";
import * as path from "node:path";
import { parseRecord, type DecodedRecord } from "./record";
import { PRIORITIES, type Priority } from "./types";

const READ_CHUNK = 1024 * 1024;
export const SEGMENT_EXT = ".seg";
export const COMPACT_EXT = ".seg.compact";

export function segmentName(base: number): string {
  return String(base).padStart(12, "0") + SEGMENT_EXT;
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Summary of a run of records, kept in memory instead of a per-record index. */
export interface RecordSummary {
  count: number;
  firstSeq: number;
  lastSeq: number;
  byPriority: number[];
}

export function emptySummary(): RecordSummary {
  return { count: 0, firstSeq: 0, lastSeq: 0, byPriority: PRIORITIES.map(() => 0) };
}

export function addToSummary(s: RecordSummary, seq: number, priority: Priority): void {
  if (s.count === 0) s.firstSeq = seq;
  s.lastSeq = seq;
  s.count++;
  s.byPriority[priority]!++;
}

export interface PositionedRecord {
  record: DecodedRecord;
  offset: number;
  /** The record's bytes as on disk, prefix included. */
  raw: Buffer;
}

export interface OpenResult {
  segment: Segment;
  discardedBytes: number;
  /** Why bytes were discarded, for the agent's log. */
  problem?: string;
}

/**
 * One append-only file of records. The name carries the seq the segment was
 * created for; records inside have strictly increasing seqs (possibly with gaps
 * left by drops). Only the spool's active (last) segment is appended to.
 */
export class Segment {
  private fd: number;
  size = 0;
  summary: RecordSummary = emptySummary();

  private constructor(
    readonly dir: string,
    readonly base: number,
    fd: number,
  ) {
    this.fd = fd;
  }

  get path(): string {
    return path.join(this.dir, segmentName(this.base));
  }

  static create(dir: string, base: number): Segment {
    const fd = fs.openSync(path.join(dir, segmentName(base)), "wx+");
    return new Segment(dir, base, fd);
  }

  /**
   * Opens an existing segment and checks every record. The file is cut at the
   * first record that is torn, fails its checksum or does not increase the seq:
   * everything after it in this file is untrustworthy.
   */
  static open(dir: string, base: number, afterSeq: number): OpenResult {
    const seg = new Segment(dir, base, fs.openSync(path.join(dir, segmentName(base)), "r+"));
    return { segment: seg, ...seg.verify(afterSeq) };
  }

  /**
   * Checks every record, rebuilds the summary and cuts the file at the first bad
   * record. Used at open, and again if a record goes bad under a running spool.
   */
  verify(afterSeq: number): { discardedBytes: number; problem?: string } {
    const fileSize = fs.fstatSync(this.fd).size;
    this.size = fileSize;
    this.summary = emptySummary();
    let good = 0;
    let prev = afterSeq;
    let problem: string | undefined;
    for (const item of this.scan(0, fileSize, (detail) => (problem = detail))) {
      if (item.record.seq <= prev) {
        problem = `seq ${item.record.seq} does not follow ${prev}`;
        break;
      }
      prev = item.record.seq;
      addToSummary(this.summary, item.record.seq, item.record.priority);
      good = item.offset + item.record.size;
    }
    if (good < fileSize) {
      fs.ftruncateSync(this.fd, good);
      fs.fsyncSync(this.fd);
      this.size = good;
      problem ??= "torn record at end of file";
    }
    return { discardedBytes: fileSize - good, problem: problem ? `${segmentName(this.base)} at byte ${good}: ${problem}` : undefined };
  }

  /**
   * Yields the valid records in [from, to), reading in chunks. Stops at the first
   * bad record and reports it through `onBad`.
   */
  *scan(from: number, to: number, onBad?: (detail: string) => void, chunkBytes = READ_CHUNK): Generator<PositionedRecord> {
    let chunk: Buffer = Buffer.alloc(0);
    let chunkStart = from;
    let offset = from;
    while (offset < to) {
      const res = parseRecord(chunk, offset - chunkStart, chunk.length);
      if (res.ok) {
        const at = offset - chunkStart;
        yield { record: res.record, offset, raw: chunk.subarray(at, at + res.record.size) };
        offset += res.record.size;
        continue;
      }
      if (res.reason === "corrupt") {
        onBad?.(res.detail);
        return;
      }
      const want = Math.max(chunkBytes, res.need);
      if (offset + res.need > to) {
        onBad?.("torn record at end of file");
        return;
      }
      chunk = this.read(offset, Math.min(want, to - offset));
      chunkStart = offset;
    }
  }

  read(offset: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const n = fs.readSync(this.fd, buf, got, length - got, offset + got);
      if (n === 0) break;
      got += n;
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  /** Writes a prepared batch in one call. On failure the file is cut back so no partial record stays. */
  append(batch: Buffer, added: RecordSummary): void {
    try {
      let written = 0;
      while (written < batch.length) written += fs.writeSync(this.fd, batch, written, batch.length - written, this.size + written);
    } catch (err) {
      try {
        fs.ftruncateSync(this.fd, this.size);
      } catch {
        // The checksum scan on the next open cuts whatever stays behind.
      }
      throw err;
    }
    this.size += batch.length;
    if (added.count > 0) {
      if (this.summary.count === 0) this.summary.firstSeq = added.firstSeq;
      this.summary.lastSeq = added.lastSeq;
      this.summary.count += added.count;
      for (const p of PRIORITIES) this.summary.byPriority[p]! += added.byPriority[p]!;
    }
  }

  sync(): void {
    fs.fdatasyncSync(this.fd);
  }

  /**
   * Writes the records `keep` accepts to a side file (not yet visible as the
   * segment). `commitRewrite` makes it the segment; until then a crash leaves the
   * original intact.
   */
  writeCompacted(keep: (r: PositionedRecord) => boolean, durable: boolean): { summary: RecordSummary; size: number } {
    const tmp = path.join(this.dir, String(this.base).padStart(12, "0") + COMPACT_EXT);
    const fd = fs.openSync(tmp, "w");
    const summary = emptySummary();
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): void => {
      const out = Buffer.concat(pending, pendingBytes);
      let written = 0;
      while (written < out.length) written += fs.writeSync(fd, out, written, out.length - written, size + written);
      size += out.length;
      pending = [];
      pendingBytes = 0;
    };
    try {
      for (const item of this.scan(0, this.size)) {
        if (!keep(item)) continue;
        pending.push(item.raw);
        pendingBytes += item.raw.length;
        addToSummary(summary, item.record.seq, item.record.priority);
        if (pendingBytes >= READ_CHUNK) flush();
      }
      flush();
      if (durable) fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return { summary, size };
  }

  /** Replaces the segment with the side file from `writeCompacted`. */
  commitRewrite(result: { summary: RecordSummary; size: number }, durable: boolean): void {
    const tmp = path.join(this.dir, String(this.base).padStart(12, "0") + COMPACT_EXT);
    fs.renameSync(tmp, this.path);
    if (durable) fsyncDir(this.dir);
    fs.closeSync(this.fd);
    this.fd = fs.openSync(this.path, "r+");
    this.size = result.size;
    this.summary = result.summary;
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  remove(): void {
    this.close();
    fs.rmSync(this.path, { force: true });
  }
}
