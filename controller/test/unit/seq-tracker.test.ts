import { describe, expect, it } from "vitest";
import { SeqTracker } from "../../src/ingest/seq-tracker";

describe("SeqTracker", () => {
  it("acks contiguously, records gaps the agent skipped, and counts every missing seq exactly", () => {
    const t = new SeqTracker({ agentId: "a", ackedSeq: 0, lastSeq: 0, gaps: [], missing: 0 });
    // 1000 kept events with one dropped between each pair: 999 gaps, more than the list keeps.
    const seqs = Array.from({ length: 1000 }, (_, i) => 1 + i * 2);
    const next = t.preview(seqs);
    expect(next.ackedSeq).toBe(1999);
    expect(next.missing).toBe(999);
    expect(next.gaps.length).toBeLessThanOrEqual(200);
    expect(next.gaps.at(-1)).toEqual([1998, 1998]);
    t.commit(next);
    // A replay of what is already stored changes nothing.
    expect(t.preview([5, 7, 9])).toEqual(next);
  });

  it("preview does not mutate until commit", () => {
    const t = new SeqTracker({ agentId: "a", ackedSeq: 10, lastSeq: 10, gaps: [], missing: 0 });
    t.preview([11, 12, 20]);
    expect(t.cursor.ackedSeq).toBe(10);
  });
});
