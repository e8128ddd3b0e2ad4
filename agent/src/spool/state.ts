import { writeMeta, type SpoolMeta } from "./meta";
import type { Segment } from "./segment";
import type { ResolvedSpoolOptions } from "./types";

/**
 * The spool's in-memory state, shared by the modules that change it. Memory is
 * per segment (a summary), never per record, so a full 1 GiB spool costs a few
 * hundred bytes per segment.
 *
 * Invariants:
 * - `segments` are sorted by base; seqs increase across them.
 * - Acknowledged records can only remain in `segments[0]`, in [0, ackOffset);
 *   `ackedInHead` of them. Fully acknowledged segments are deleted.
 * - The lease cursor sits right after the record `leasedUpTo` (or at ackOffset).
 */
export class SpoolState {
  segments: Segment[] = [];
  lastSeq = 0;
  leasedUpTo = 0;
  cursorSeg: Segment | undefined;
  cursorOffset = 0;
  ackOffset = 0;
  ackedInHead = 0;
  /** Bytes each segment may be leased up to: written, and durable if the fsync policy asks for it. */
  readonly leasable = new Map<Segment, number>();

  constructor(
    readonly opts: ResolvedSpoolOptions,
    public meta: SpoolMeta,
  ) {}

  get dir(): string {
    return this.opts.dir;
  }

  get durable(): boolean {
    return this.opts.fsync !== "never";
  }

  bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  unacked(): number {
    let n = 0;
    for (const s of this.segments) n += s.summary.count;
    return n - this.ackedInHead;
  }

  /** Meta as it should be persisted now. */
  snapshotMeta(): SpoolMeta {
    // The ack never runs past the last seq assigned here (commit refuses such acks; loadState heals them).
    return { ...this.meta, lastSeq: this.lastSeq, ackedSeq: Math.min(this.meta.ackedSeq, this.lastSeq), dropped: { ...this.meta.dropped } };
  }

  persistMeta(durable = this.durable): void {
    const m = this.snapshotMeta();
    writeMeta(this.dir, m, durable);
    this.meta = m;
  }

  resetCursorToAck(): void {
    this.leasedUpTo = this.meta.ackedSeq;
    this.cursorSeg = this.segments[0];
    this.cursorOffset = this.ackOffset;
  }

  /** Deletes a segment file and keeps the cursors pointing at live segments. */
  removeSegment(seg: Segment): void {
    const i = this.segments.indexOf(seg);
    if (i < 0) return;
    seg.remove();
    this.segments.splice(i, 1);
    this.leasable.delete(seg);
    if (i === 0) {
      this.ackOffset = 0;
      this.ackedInHead = 0;
    }
    if (this.cursorSeg === seg) {
      // Everything in the removed segment was leased or acked; the next segment is untouched.
      this.cursorSeg = this.segments[i];
      this.cursorOffset = 0;
    }
  }

  /** Counts the head records that `ackedSeq` now covers, moving ackOffset past them. */
  advanceAckOffset(): void {
    const head = this.segments[0];
    if (!head) return;
    // Small reads: an ack usually moves a few hundred records, not a whole segment.
    for (const { record, offset } of head.scan(this.ackOffset, head.size, undefined, 64 * 1024)) {
      if (record.seq > this.meta.ackedSeq) return;
      this.ackOffset = offset + record.size;
      this.ackedInHead++;
    }
  }
}
