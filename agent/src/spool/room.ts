import { compactSegment } from "./compact";
import type { SpoolState } from "./state";
import { PRIORITIES, type Priority } from "./types";

export interface Incoming {
  kind: string;
  priority: Priority;
  size: number;
}

/**
 * Frees space for an append that would push the spool past maxBytes, following
 * the configured full policy (not `block`, which the caller handles). Returns the
 * indexes of incoming items to drop; the caller counts those, stored drops are
 * counted here.
 */
export function makeRoom(st: SpoolState, incoming: Incoming[]): Set<number> {
  const need = incoming.reduce((n, i) => n + i.size, 0);
  let deficit = st.bytes() + need - st.opts.maxBytes;
  const dropIncoming = new Set<number>();
  if (deficit <= 0) return dropIncoming;

  deficit -= reclaimAcked(st);
  if (deficit <= 0) return dropIncoming;

  if (st.opts.fullPolicy === "drop_newest") {
    for (let i = incoming.length - 1; i >= 0 && deficit > 0; i--) {
      dropIncoming.add(i);
      deficit -= incoming[i]!.size;
    }
    return dropIncoming;
  }

  for (const p of PRIORITIES) {
    if (deficit <= 0) break;
    deficit -= dropStored(st, p, deficit + st.opts.dropSlackBytes);
    // Incoming records are newer than stored ones of the same priority, so they go next.
    for (let i = 0; i < incoming.length && deficit > 0; i++) {
      const item = incoming[i]!;
      if (item.priority !== p) continue;
      dropIncoming.add(i);
      deficit -= item.size;
    }
  }
  return dropIncoming;
}

/** Acknowledged records still in the head segment cost nothing to give back. Returns bytes freed. */
export function reclaimAcked(st: SpoolState): number {
  const head = st.segments[0];
  return head && st.ackedInHead > 0 ? compactSegment(st, head, () => false) : 0;
}

/** Drops the oldest unleased stored records of one priority until `target` bytes are freed. */
function dropStored(st: SpoolState, p: Priority, target: number): number {
  let freed = 0;
  for (const seg of [...st.segments]) {
    if (freed >= target) break;
    if (seg.summary.byPriority[p] === 0 || seg.summary.lastSeq <= st.leasedUpTo) continue;
    let planned = 0;
    freed += compactSegment(st, seg, ({ record }) => {
      if (record.priority !== p || freed + planned >= target) return false;
      planned += record.size;
      return true;
    });
  }
  return freed;
}
