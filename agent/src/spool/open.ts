import * as fs from "node:fs";
import { loadMeta, recoverJournal } from "./meta";
import { Segment, SEGMENT_EXT } from "./segment";
import { SpoolState } from "./state";
import { MAX_SEQ } from "@vigil/proto";
import type { ResolvedSpoolOptions } from "./types";

const SEGMENT_NAME = /^(\d{12,})\.seg$/;

/**
 * Rebuilds the spool state from disk: finishes or rolls back an interrupted
 * compaction, checks every record (cutting torn or corrupt tails), deletes what
 * the persisted ack already covers, and places the lease cursor at the oldest
 * unacknowledged record. Problems are returned, never thrown, so the agent
 * always starts.
 */
export function loadState(opts: ResolvedSpoolOptions): { state: SpoolState; problems: string[] } {
  const dir = opts.dir;
  const problems: string[] = [];
  recoverJournal(dir);
  const { meta, problem } = loadMeta(dir);
  if (problem) problems.push(problem);
  const st = new SpoolState(opts, meta);

  const bases: number[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(SEGMENT_EXT)) continue;
    const m = SEGMENT_NAME.exec(name);
    const base = m ? Number(m[1]) : NaN;
    if (!Number.isSafeInteger(base)) {
      problems.push(`ignored unexpected file ${name}`);
      continue;
    }
    bases.push(base);
  }
  bases.sort((a, b) => a - b);

  let discarded = 0;
  let prevSeq = 0;
  for (const base of bases) {
    const res = Segment.open(dir, base, prevSeq);
    discarded += res.discardedBytes;
    if (res.problem) problems.push(res.problem);
    st.segments.push(res.segment);
    if (res.segment.summary.count > 0) prevSeq = res.segment.summary.lastSeq;
  }
  if (discarded > 0) st.meta.discardedBytes += discarded;

  healPoisonedSeqs(st, prevSeq, problems);
  // Empty segments are kept only as the last (active) one; acknowledged ones go.
  for (const seg of [...st.segments]) {
    const last = seg === st.segments[st.segments.length - 1];
    if ((seg.summary.count === 0 && !last) || (seg.summary.count > 0 && seg.summary.lastSeq <= meta.ackedSeq)) st.removeSegment(seg);
  }
  st.advanceAckOffset();
  for (const seg of st.segments) {
    // A previous process may have died with writes still in the page cache.
    if (st.durable) seg.sync();
    st.leasable.set(seg, seg.size);
  }
  st.resetCursorToAck();
  st.persistMeta();
  return { state: st, problems };
}

/**
 * The seq counter from the meta and the segments. A persisted ack beyond the
 * last seq this spool assigned, or any seq past MAX_SEQ, is poison (a forged ack
 * adopted by an older agent: 2^53−1 left it unable to number another event);
 * it is clamped so that everything still on disk is sent again (the controller
 * dedupes), reported and counted, instead of blinding the agent for good. When
 * the counter itself is lost, the next ack (the controller's Welcome, below
 * MAX_SEQ) restores it once, so no seq the controller holds is handed out again.
 */
function healPoisonedSeqs(st: SpoolState, segmentsLast: number, problems: string[]): void {
  const meta = st.meta;
  const sane = (n: number) => n <= MAX_SEQ;
  const last = Math.max(sane(meta.lastSeq) ? meta.lastSeq : 0, segmentsLast);
  if (sane(meta.ackedSeq) && sane(meta.lastSeq) && meta.ackedSeq <= last) {
    st.lastSeq = last;
    return;
  }
  const first = st.segments.find((s) => s.summary.count > 0)?.summary.firstSeq;
  const acked = Math.min(sane(meta.ackedSeq) ? meta.ackedSeq : last, first !== undefined ? first - 1 : last);
  // The records on disk are a lower bound of the counter, not the counter (acked segments are
  // deleted): without a sane one, the controller's next ack says where numbering stood.
  const resync = !sane(meta.lastSeq);
  problems.push(
    `persisted ack ${meta.ackedSeq} (last seq ${meta.lastSeq}) is beyond the last seq this spool assigned (${last}): clamped to ${acked}, records on disk will be sent again${resync ? "; the seq counter resumes from the controller's next ack" : ""}`,
  );
  meta.ackedSeq = acked;
  meta.lastSeq = last;
  meta.acksBeyondLast++;
  if (resync) meta.resync = true;
  st.lastSeq = last;
}
