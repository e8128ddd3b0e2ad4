import { promoteMetaNext, writeMetaNext } from "./meta";
import type { PositionedRecord, Segment } from "./segment";
import type { SpoolState } from "./state";

/**
 * Rewrites one segment without its acknowledged records and without the
 * unleased records `shouldDrop` picks (visited oldest first), counting the
 * latter by kind. Dropping by rewrite rather than tombstones is what actually
 * gives the space back while the controller is unreachable, which is exactly
 * when the spool fills; a full spool then rewrites about one segment per
 * `dropSlackBytes`. The new counts and the new segment become visible together
 * (see `recoverJournal`), so a crash never leaves a drop uncounted or counted twice.
 *
 * Leased records are never dropped: they may already be at the controller, and
 * counting them as dropped would make the count wrong.
 *
 * Returns the bytes freed.
 */
export function compactSegment(st: SpoolState, seg: Segment, shouldDrop: (r: PositionedRecord) => boolean): number {
  const acked = st.meta.ackedSeq;
  const dropped: Record<string, number> = {};
  let keptBeforeCursor = 0;
  const before = seg.size;
  const result = seg.writeCompacted((item) => {
    const { seq, size, kind } = item.record;
    if (seq <= acked) return false;
    if (seq > st.leasedUpTo && shouldDrop(item)) {
      dropped[kind] = (dropped[kind] ?? 0) + 1;
      return false;
    }
    if (seq <= st.leasedUpTo) keptBeforeCursor += size;
    return true;
  }, st.durable);

  const meta = st.snapshotMeta();
  for (const [kind, n] of Object.entries(dropped)) meta.dropped[kind] = (meta.dropped[kind] ?? 0) + n;
  writeMetaNext(st.dir, meta, st.durable);
  seg.commitRewrite(result, st.durable);
  promoteMetaNext(st.dir, st.durable);
  st.meta = meta;

  if (seg === st.segments[0]) {
    st.ackOffset = 0;
    st.ackedInHead = 0;
  }
  if (st.cursorSeg === seg) st.cursorOffset = keptBeforeCursor;
  // The rewritten file was synced (when the policy syncs at all), so all of it may be leased.
  st.leasable.set(seg, seg.size);
  if (seg.summary.count === 0 && seg !== st.segments[st.segments.length - 1]) st.removeSegment(seg);
  return before - seg.size;
}
