import { describe, expect, it } from "vitest";
import { SEQ_CEILING, SeqWindow } from "../../src/ingest/seq-window";

const opts = { maxAhead: 1000, maxRatePerSec: 100 };

describe("SeqWindow: how far an agent's seqs may run ahead", () => {
  it("a fresh agent gets maxAhead, growing with time at the rate", () => {
    const w = new SeqWindow(0, 10_000, opts);
    expect(w.limit(10_000, 0)).toBe(1000);
    expect(w.limit(20_000, 0)).toBe(2000);
    expect(w.check([1, 2, 1000], 10_000, 0)).toBeNull();
    expect(w.check([1, 1001], 10_000, 0)).toMatchObject({ seq: 1001, limit: 1000 });
  });

  it("contiguous progress always fits: the window also counts from the ack", () => {
    const w = new SeqWindow(0, 10_000, opts);
    expect(w.check([50_001, 50_500], 10_000, 50_000)).toBeNull();
  });

  it("a controller restored from an old backup knows the agent from long ago, so the window is wide", () => {
    const w = new SeqWindow(1_000, 0, opts);
    const monthLater = 30 * 86_400_000;
    expect(w.claim(200_000_000, monthLater, 1_000)).toBeNull();
    expect(w.check([199_999_000], monthLater, 1_000)).toBeNull();
  });

  it("a claim in the window re-anchors it at now; one beyond is refused and changes nothing", () => {
    const w = new SeqWindow(100, 0, opts);
    expect(w.claim(2 ** 53 - 1, 1_000, 100)).toMatchObject({ seq: 2 ** 53 - 1 });
    expect(w.limit(1_000, 100)).toBe(100 + 100 + 1000);
    expect(w.claim(500, 1_000, 100)).toBeNull();
    expect(w.limit(1_000, 100)).toBe(1500);
    expect(w.claim(-1, 1_000, 100)).not.toBeNull();
    expect(w.claim(1.5, 1_000, 100)).not.toBeNull();
  });

  it("never beyond the ceiling, however long ago", () => {
    const w = new SeqWindow(0, 0, { maxAhead: 1000, maxRatePerSec: 1e12 });
    expect(w.limit(1e12, 0)).toBe(SEQ_CEILING);
    expect(w.check([2 ** 53 - 1], 1e12, 0)).not.toBeNull();
  });
});
