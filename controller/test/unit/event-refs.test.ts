import { describe, expect, it } from "vitest";
import type { EventRef } from "../../src/database/entities/alert.entity";
import { FIRST_EVENT_REFS, keepEventFields, keepEventRefs, MAX_EVENT_FIELDS, MAX_EVENT_REFS, NEWEST_EVENT_REFS, newestEventRef } from "../../src/alerts/event-refs";

const ref = (seq: number, agentId = "a"): EventRef => ({ agentId, seq, timeMs: 1_000_000 + seq * 1000 });

describe("alert evidence: first and newest references, bounded", () => {
  it("merging one match at a time keeps what bounding the whole history keeps: the first 40 and the newest 10", () => {
    let kept: EventRef[] = [];
    for (let seq = 1; seq <= 122; seq++) kept = keepEventRefs(kept, [ref(seq)]);
    expect(kept).toHaveLength(MAX_EVENT_REFS);
    expect(kept.slice(0, FIRST_EVENT_REFS).map((r) => r.seq)).toEqual(Array.from({ length: FIRST_EVENT_REFS }, (_, i) => i + 1));
    expect(kept.slice(FIRST_EVENT_REFS).map((r) => r.seq)).toEqual(Array.from({ length: NEWEST_EVENT_REFS }, (_, i) => 113 + i));
    expect(
      keepEventRefs(
        [],
        Array.from({ length: 122 }, (_, i) => ref(i + 1)),
      ),
    ).toEqual(kept);
    expect(newestEventRef(kept)).toEqual(ref(122));
  });

  it("a late, older event takes its place in time order; duplicates are not kept twice", () => {
    let kept = keepEventRefs(
      [],
      Array.from({ length: 60 }, (_, i) => ref(i + 100)),
    );
    kept = keepEventRefs(kept, [ref(5), ref(100), ref(159)]);
    expect(kept).toHaveLength(MAX_EVENT_REFS);
    expect(kept[0].seq).toBe(5);
    expect(kept.at(-1)?.seq).toBe(159);
    expect(new Set(kept.map((r) => r.seq)).size).toBe(kept.length);
  });

  it("embedded fields keep the first five and the newest five in arrival order", () => {
    let kept: Record<string, unknown>[] = [];
    for (let i = 1; i <= 30; i++) kept = keepEventFields(kept, [{ EventSeq: i }]);
    expect(kept).toHaveLength(MAX_EVENT_FIELDS);
    expect(kept.map((f) => f.EventSeq)).toEqual([1, 2, 3, 4, 5, 26, 27, 28, 29, 30]);
    expect(newestEventRef([])).toBeNull();
  });
});
