import { describe, expect, it } from "vitest";
import type { Notice } from "../../src/integrations/notices";
import { CaseUpdateThrottle } from "../../src/webhooks/case-update-throttle";

function harness(windowMs = 60_000, maxPending = 10) {
  let now = 1_000_000;
  const timers: Array<{ at: number; fn: () => void }> = [];
  const sent: Notice[] = [];
  const t = new CaseUpdateThrottle({ windowMs, maxPending, now: () => now, setTimer: (fn, ms) => (timers.push({ at: now + ms, fn }), {}) }, (n) => sent.push(n));
  const advance = (ms: number) => {
    now += ms;
    for (const x of timers.splice(0).sort((a, b) => a.at - b.at)) {
      if (x.at <= now) x.fn();
      else timers.push(x);
    }
  };
  const update = (id: string, alertCount: number): Notice => ({ topic: "cases", type: "case.updated", time: now, data: { id, alertCount } });
  return { t, sent, advance, update };
}

describe("CaseUpdateThrottle: case.updated to webhooks, at most once per case per window", () => {
  it("sends the first update at once and folds a flood into one trailing update with the latest state", () => {
    const h = harness();
    h.t.offer(h.update("c1", 1));
    expect(h.sent.map((n) => n.data.alertCount)).toEqual([1]);
    for (let i = 2; i <= 500; i++) h.t.offer(h.update("c1", i));
    expect(h.sent).toHaveLength(1);
    expect(h.t.coalesced).toBe(498);
    h.advance(59_999);
    expect(h.sent).toHaveLength(1);
    h.advance(1);
    expect(h.sent.map((n) => n.data.alertCount)).toEqual([1, 500]);
  });

  it("throttles each case on its own", () => {
    const h = harness();
    h.t.offer(h.update("a", 1));
    h.t.offer(h.update("b", 1));
    h.t.offer(h.update("a", 2));
    expect(h.sent.map((n) => n.data.id)).toEqual(["a", "b"]);
    h.advance(60_000);
    expect(h.sent.map((n) => [n.data.id, n.data.alertCount])).toEqual([
      ["a", 1],
      ["b", 1],
      ["a", 2],
    ]);
    // After a quiet window the next update goes out at once again.
    h.advance(120_000);
    h.t.offer(h.update("b", 2));
    expect(h.sent.at(-1)!.data).toMatchObject({ id: "b", alertCount: 2 });
  });

  it("bounds the cases waiting for a trailing update and counts what it drops", () => {
    const h = harness(60_000, 3);
    for (let i = 0; i < 10; i++) h.t.offer(h.update(`c${i}`, 1));
    for (let i = 0; i < 10; i++) h.t.offer(h.update(`c${i}`, 2));
    expect(h.sent).toHaveLength(10);
    expect(h.t.dropped).toBe(7);
    h.advance(60_000);
    expect(h.sent.filter((n) => n.data.alertCount === 2).map((n) => n.data.id)).toEqual(["c0", "c1", "c2"]);
  });
});
