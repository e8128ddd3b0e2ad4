import { describe, expect, it } from "vitest";
import { Coalescer } from "../../src/database/coalescer";

/** A runMany whose batches are held until released: what a slow database round trip looks like. */
function heldRunner<I, R>(answer: (item: I) => R) {
  const calls: I[][] = [];
  const releases: Array<() => void> = [];
  const runMany = (items: I[]) => {
    calls.push(items);
    return new Promise<R[]>((resolve) => releases.push(() => resolve(items.map(answer))));
  };
  /** Releases the next held batch, then lets the coalescer start the one after it. */
  const release = async () => {
    await until(() => releases.length > 0);
    releases.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { calls, runMany, release };
}

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !cond(); i++) await new Promise((r) => setImmediate(r));
  if (!cond()) throw new Error("condition never held");
}

describe("Coalescer", () => {
  it("callers of the same turn share one batch, and each gets its own item's result", async () => {
    const r = heldRunner((n: number) => n * 10);
    const c = new Coalescer({ runMany: r.runMany, maxItems: 100 });
    const all = Promise.all([1, 2, 3, 4].map((n) => c.submit(n)));
    await r.release();
    expect(await all).toEqual([10, 20, 30, 40]);
    expect(r.calls).toEqual([[1, 2, 3, 4]]);
    expect(c.stats).toMatchObject({ batches: 1, items: 4 });
  });

  it("an item asked for while a batch runs is not answered by it: it goes in the next batch, with the others that queued meanwhile", async () => {
    const r = heldRunner((s: string) => s.toUpperCase());
    const c = new Coalescer({ runMany: r.runMany, maxItems: 100 });
    const first = c.submit("a");
    await until(() => r.calls.length === 1);
    const later = [c.submit("a"), c.submit("b"), c.submit("c")];
    await r.release();
    expect(await first).toBe("A");
    expect(r.calls).toEqual([["a"], ["a", "b", "c"]]);
    await r.release();
    expect(await Promise.all(later)).toEqual(["A", "B", "C"]);
  });

  it("batches hold at most maxItems, in queue order", async () => {
    const r = heldRunner((n: number) => n);
    const c = new Coalescer({ runMany: r.runMany, maxItems: 3 });
    const all = Promise.all(Array.from({ length: 7 }, (_, i) => c.submit(i)));
    for (let i = 0; i < 3; i++) await r.release();
    expect(await all).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(r.calls).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  });

  it("items with the same key never share a batch: the later one waits for the next, order kept per key", async () => {
    const r = heldRunner((x: { id: string; v: number }) => `${x.id}${x.v}`);
    const c = new Coalescer({ runMany: r.runMany, maxItems: 10, keyOf: (x: { id: string; v: number }) => x.id });
    const all = Promise.all([c.submit({ id: "a", v: 1 }), c.submit({ id: "b", v: 1 }), c.submit({ id: "a", v: 2 }), c.submit({ id: "a", v: 3 }), c.submit({ id: "c", v: 1 })]);
    for (let i = 0; i < 3; i++) await r.release();
    expect(await all).toEqual(["a1", "b1", "a2", "a3", "c1"]);
    expect(r.calls.map((b) => b.map((x) => `${x.id}${x.v}`))).toEqual([["a1", "b1", "c1"], ["a2"], ["a3"]]);
  });

  it("a failed batch fails all its callers, unless failures are isolated: then only the bad item's caller fails", async () => {
    const failIfBad = (items: string[]) => (items.includes("bad") ? Promise.reject(new Error("constraint")) : Promise.resolve(items.map((s) => s.length)));
    const shared = new Coalescer({ runMany: failIfBad, maxItems: 10 });
    const a = await Promise.allSettled(["ok", "bad", "fine"].map((s) => shared.submit(s)));
    expect(a.map((x) => x.status)).toEqual(["rejected", "rejected", "rejected"]);

    const isolated = new Coalescer({ runMany: failIfBad, maxItems: 10, isolateFailures: true });
    const b = await Promise.allSettled(["ok", "bad", "fine"].map((s) => isolated.submit(s)));
    expect(b.map((x) => (x.status === "fulfilled" ? x.value : (x.reason as Error).message))).toEqual([2, "constraint", 4]);
    expect(isolated.stats.isolatedRuns).toBe(1);
    // The coalescer keeps working after a failure.
    expect(await isolated.submit("again")).toBe(5);
  });

  it("a runMany that answers the wrong number of results fails its callers instead of mixing answers up", async () => {
    const c = new Coalescer({ runMany: (items: number[]) => Promise.resolve(items.slice(1)), maxItems: 10 });
    const r = await Promise.allSettled([c.submit(1), c.submit(2)]);
    expect(r.every((x) => x.status === "rejected")).toBe(true);
  });
});
