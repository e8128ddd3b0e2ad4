import * as fs from "node:fs";
import { acquireLock } from "./lock";
import { loadState } from "./open";
import { resolveOptions } from "./options";
import { kindBytes, recordSize, writeRecord } from "./record";
import { makeRoom, reclaimAcked, type Incoming } from "./room";
import { Durability } from "./durability";
import { addToSummary, emptySummary, Segment } from "./segment";
import type { SpoolState } from "./state";
import { Waiters } from "./waiters";
import { MAX_SEQ } from "@vigil/proto";
import { NOT_STORED, SpoolFullError, type AppendItem, type LeasedRecord, type SpoolOptions, type SpoolStats } from "./types";

interface Encoded {
  kind: Buffer;
  payload: Uint8Array;
}

/**
 * The agent's disk spool: every event is appended here before it is sent, and
 * stays until the controller's ack covers its seq (enqueue / lease / commit /
 * rewind, after Velociraptor's ring buffer).
 *
 * Seqs are assigned here, start at 1, strictly increase and never repeat, across
 * restarts too. Records dropped by the full policy leave gaps in the seqs; every
 * such gap is counted in `dropped()` by kind. Seqs missing between two records a
 * lease returns (or between the ack and the first one) were dropped this way.
 *
 * All file I/O is synchronous: a batch is one write() of a few KiB, cheaper than
 * the promise machinery around an async one (see docs/benchmarks.md).
 */
export class DiskSpool {
  /** Problems found and repaired when the spool was opened (torn tails, stray files). */
  readonly warnings: string[];
  private readonly durability: Durability;
  private readonly dataWaiters = new Waiters();
  private readonly spaceWaiters = new Waiters();
  private readonly resyncWaiters = new Waiters();
  private closed = false;

  private constructor(
    private readonly st: SpoolState,
    private readonly unlock: () => void,
    problems: string[],
  ) {
    this.warnings = problems;
    this.durability = new Durability(
      st,
      () => this.wakeIfData(),
      (m) => this.warnings.push(m),
    );
  }

  static open(options: SpoolOptions): DiskSpool {
    const opts = resolveOptions(options);
    fs.mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    const unlock = acquireLock(opts.dir);
    try {
      const { state, problems } = loadState(opts);
      return new DiskSpool(state, unlock, problems);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  /**
   * Stores a batch with one write. Returns the seq given to each item, or
   * NOT_STORED for an item the full policy dropped (counted in `dropped()`).
   * Throws SpoolFullError under the `block` policy, and encode or I/O errors as
   * they come; then the batch was not stored and no seq was used (records the
   * full policy already dropped to make room stay dropped and counted).
   */
  append(items: readonly AppendItem[]): number[] {
    this.assertOpen();
    if (items.length === 0) return [];
    const st = this.st;
    const kinds = items.map((i) => kindBytes(i.kind));
    let encoded = this.encodeFrom(items, kinds, st.lastSeq + 1);
    const sizes = encoded.map((e) => recordSize(e.kind.length, e.payload.length));
    const need = sizes.reduce((a, b) => a + b, 0);

    let dropIdx = new Set<number>();
    if (st.bytes() + need > st.opts.maxBytes) {
      if (st.opts.fullPolicy === "block") {
        reclaimAcked(st);
        const over = st.bytes() + need - st.opts.maxBytes;
        if (over > 0) throw new SpoolFullError(over, st.opts.maxBytes);
      } else {
        const incoming: Incoming[] = items.map((it, i) => ({ kind: it.kind, priority: it.priority, size: sizes[i]! }));
        dropIdx = makeRoom(st, incoming);
      }
    }
    const keep = items.map((_, i) => i).filter((i) => !dropIdx.has(i));
    if (dropIdx.size > 0) {
      // Survivors are re-encoded with contiguous seqs so an incoming drop leaves no gap.
      // Their seqs are not larger than before, so they are not larger on disk either.
      encoded = this.encodeFrom(
        keep.map((i) => items[i]!),
        keep.map((i) => kinds[i]!),
        st.lastSeq + 1,
      );
    }

    const seqs = items.map(() => NOT_STORED);
    if (keep.length > 0)
      this.writeBatch(
        keep.map((i) => items[i]!),
        encoded,
        keep,
        seqs,
      );
    if (dropIdx.size > 0) {
      for (const i of dropIdx) st.meta.dropped[items[i]!.kind] = (st.meta.dropped[items[i]!.kind] ?? 0) + 1;
      // Fsynced only under "always"; otherwise as durable as the records themselves.
      st.persistMeta(st.opts.fsync === "always");
    }
    return seqs;
  }

  /**
   * The next records not yet leased, in seq order: at most `maxRecords`, and at
   * most `maxBytes` of payload unless a single record is larger. With an fsync
   * policy, only records already on stable storage are leased, so nothing the
   * controller has seen can vanish from the spool in a power loss.
   */
  lease(maxRecords: number, maxBytes: number): LeasedRecord[] {
    this.assertOpen();
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) throw new RangeError(`maxRecords must be a positive integer, got ${maxRecords}`);
    const st = this.st;
    const out: LeasedRecord[] = [];
    let bytes = 0;
    while (out.length < maxRecords && st.cursorSeg) {
      const seg = st.cursorSeg;
      const end = st.leasable.get(seg) ?? 0;
      let full = false;
      let bad = false;
      const onBad = (): void => {
        bad = true;
      };
      for (const { record, offset } of seg.scan(st.cursorOffset, end, onBad, Math.min(1024 * 1024, maxBytes + 4096))) {
        if (out.length >= maxRecords || (out.length > 0 && bytes + record.payload.length > maxBytes)) {
          full = true;
          break;
        }
        st.cursorOffset = offset + record.size;
        if (record.seq <= st.leasedUpTo) continue;
        st.leasedUpTo = record.seq;
        out.push({ seq: record.seq, kind: record.kind, priority: record.priority, payload: record.payload });
        bytes += record.payload.length;
      }
      if (bad) {
        // If the re-check finds nothing to cut, the fault is in reading, not in the
        // data: stop rather than spin on it.
        if (this.repair(seg) === 0) throw new Error(`spool segment ${seg.path} cannot be read at byte ${st.cursorOffset}`);
        continue;
      }
      if (full || st.cursorOffset < end) break;
      const next = st.segments[st.segments.indexOf(seg) + 1];
      if (!next || end < seg.size) break;
      st.cursorSeg = next;
      st.cursorOffset = 0;
    }
    return out;
  }

  /**
   * The controller has stored everything <= ackSeq. Segments entirely covered are
   * deleted after the ack is persisted. Returns the ack taken.
   *
   * An ack beyond the last seq assigned here acknowledges events this spool
   * never produced: it is forged, or the controller's cursor was poisoned (one
   * such ack, 2^53−1, once left an agent unable to number another event). It is
   * never adopted, and being false it proves nothing about the records still
   * unsent: only `answered` is taken (the last seq of the batch it answers, which
   * the controller did receive; nothing for a Welcome). The refusal is counted
   * (`acksBeyondLast`) and the seq counter stays where it is.
   */
  commit(ackSeq: number, answered = 0): number {
    this.assertOpen();
    const st = this.st;
    if (!Number.isSafeInteger(ackSeq) || ackSeq < 0) throw new RangeError(`ack seq must be a non-negative integer, got ${ackSeq}`);
    if (st.meta.resync) {
      // Once, after healing a poisoned state that lost the counter (see loadState).
      st.meta.resync = undefined;
      if (ackSeq > st.lastSeq && ackSeq <= MAX_SEQ) st.lastSeq = ackSeq;
      this.resyncWaiters.wakeAll();
    }
    if (ackSeq > st.lastSeq) {
      st.meta.acksBeyondLast++;
      ackSeq = Math.min(Number.isSafeInteger(answered) ? answered : 0, st.lastSeq);
      if (ackSeq <= st.meta.ackedSeq) {
        st.persistMeta(false);
        return st.meta.ackedSeq;
      }
    }
    if (ackSeq <= st.meta.ackedSeq) return st.meta.ackedSeq;
    st.meta.ackedSeq = ackSeq;
    const covered = (s: Segment | undefined): s is Segment => !!s && s.summary.count > 0 && s.summary.lastSeq <= ackSeq;
    // A lost ack only means a replay the controller dedupes; but once a segment is
    // deleted, the persisted lastSeq is all that stops its seqs being reused.
    st.persistMeta(st.durable && covered(st.segments[0]));
    while (covered(st.segments[0])) st.removeSegment(st.segments[0]);
    st.advanceAckOffset();
    if (st.leasedUpTo < ackSeq || !st.cursorSeg) st.resetCursorToAck();
    this.spaceWaiters.wakeAll();
    this.wakeIfData();
    return ackSeq;
  }

  /**
   * True after a poisoned state was healed without a sane seq counter: until the
   * controller's next ack restores it, new events may get seqs it already holds.
   */
  get resyncPending(): boolean {
    return !!this.st.meta.resync;
  }

  /** Resolves true once the counter is restored, false after `timeoutMs` (or on close). */
  async waitForResync(timeoutMs: number): Promise<boolean> {
    if (!this.resyncPending || this.closed) return !this.resyncPending;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeoutMs);
    try {
      await this.resyncWaiters.wait(ctl.signal);
    } finally {
      clearTimeout(timer);
    }
    return !this.resyncPending;
  }

  /** After a reconnect: the next lease starts again at the oldest unacknowledged record. */
  rewind(): void {
    this.assertOpen();
    this.st.resetCursorToAck();
    this.wakeIfData();
  }

  /** Resolves once a lease would return something, or the spool is closed, or `signal` aborts. */
  waitForData(signal?: AbortSignal): Promise<void> {
    if (this.closed || this.hasData()) return Promise.resolve();
    return this.dataWaiters.wait(signal);
  }

  /** Resolves when a commit frees space (for the `block` policy), or the spool is closed. */
  waitForSpace(signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.spaceWaiters.wait(signal);
  }

  dropped(): Record<string, number> {
    return { ...this.st.meta.dropped };
  }

  stats(): SpoolStats {
    const st = this.st;
    return {
      records: st.unacked(),
      bytes: st.bytes(),
      segments: st.segments.length,
      leasedUpTo: st.leasedUpTo,
      ackedSeq: st.meta.ackedSeq,
      lastSeq: st.lastSeq,
      dropped: this.dropped(),
      discardedBytes: st.meta.discardedBytes,
      acksBeyondLast: st.meta.acksBeyondLast,
    };
  }

  /** Forces everything written so far to stable storage, whatever the policy. */
  sync(): void {
    this.assertOpen();
    this.durability.flush(true);
  }

  close(): void {
    if (this.closed) return;
    this.durability.stop();
    if (this.st.durable) this.durability.flush(false);
    this.st.persistMeta();
    for (const seg of this.st.segments) seg.close();
    this.closed = true;
    this.unlock();
    this.dataWaiters.wakeAll();
    this.spaceWaiters.wakeAll();
    this.resyncWaiters.wakeAll();
  }

  private encodeFrom(items: readonly AppendItem[], kinds: Buffer[], firstSeq: number): Encoded[] {
    return items.map((it, i) => {
      const payload = it.encode(firstSeq + i);
      if (!(payload instanceof Uint8Array)) throw new TypeError(`encode for kind "${it.kind}" did not return bytes`);
      return { kind: kinds[i]!, payload };
    });
  }

  private writeBatch(items: AppendItem[], encoded: Encoded[], indexes: number[], seqs: number[]): void {
    const st = this.st;
    const first = st.lastSeq + 1;
    const total = encoded.reduce((n, e) => n + recordSize(e.kind.length, e.payload.length), 0);
    const buf = Buffer.allocUnsafe(total);
    const added = emptySummary();
    let at = 0;
    encoded.forEach((e, i) => {
      at = writeRecord(buf, at, first + i, items[i]!.priority, e.kind, e.payload);
      addToSummary(added, first + i, items[i]!.priority);
    });

    const last = st.segments[st.segments.length - 1];
    const roll = !last || (last.size > 0 && last.size + total > st.opts.segmentBytes);
    let seg = last;
    if (!seg || roll) {
      seg = Segment.create(st.dir, first);
      st.segments.push(seg);
      st.leasable.set(seg, 0);
      if (!st.cursorSeg) {
        st.cursorSeg = seg;
        st.cursorOffset = 0;
      }
    }
    seg.append(buf, added);
    st.lastSeq = first + encoded.length - 1;
    indexes.forEach((idx, i) => (seqs[idx] = first + i));
    this.durability.written(seg, roll);
  }

  /**
   * A record that was good when written no longer reads back (disk error, or
   * someone wrote into the file). Cut the segment there as an open would, count
   * the bytes, and carry on with the next segment instead of stalling the sender.
   */
  private repair(seg: Segment): number {
    const st = this.st;
    const i = st.segments.indexOf(seg);
    const prev = st.segments
      .slice(0, i)
      .reverse()
      .find((s) => s.summary.count > 0);
    const res = seg.verify(prev?.summary.lastSeq ?? 0);
    st.meta.discardedBytes += res.discardedBytes;
    if (res.problem) this.warnings.push(`corrupt record found while leasing: ${res.problem}`);
    st.leasable.set(seg, Math.min(st.leasable.get(seg) ?? 0, seg.size));
    if (st.cursorSeg === seg) st.cursorOffset = Math.min(st.cursorOffset, seg.size);
    if (i === 0) {
      st.ackOffset = 0;
      st.ackedInHead = 0;
      st.advanceAckOffset();
    }
    st.persistMeta();
    return res.discardedBytes;
  }

  private hasData(): boolean {
    const st = this.st;
    if (!st.cursorSeg) return false;
    const i = st.segments.indexOf(st.cursorSeg);
    if (st.cursorOffset < (st.leasable.get(st.cursorSeg) ?? 0)) return true;
    return st.segments.slice(i + 1).some((s) => (st.leasable.get(s) ?? 0) > 0);
  }

  private wakeIfData(): void {
    if (this.dataWaiters.size > 0 && this.hasData()) this.dataWaiters.wakeAll();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("spool is closed");
  }
}
