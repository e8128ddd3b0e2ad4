import { afterEach, describe, expect, it } from "vitest";
import type { DiskSpool } from "../../src/spool";
import { drain, items, open, tempDir } from "./helpers";

// Whether fdatasync reached the disk cannot be observed from a test without
// pulling the power; these tests check what each policy promises the sender
// (when records become leasable) and that data survives close/reopen.
// The cost of each policy is measured in scripts/bench/spool.ts.

const opened: DiskSpool[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

describe("fsync policies", () => {
  it("always: a batch is leasable as soon as append returns", () => {
    const s = open(tempDir(), { fsync: "always" });
    opened.push(s);
    s.append(items(3));
    expect(s.lease(10, 1 << 20).map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it("never: leasable at once, without any sync", () => {
    const s = open(tempDir(), { fsync: "never" });
    opened.push(s);
    s.append(items(3));
    expect(s.lease(10, 1 << 20)).toHaveLength(3);
  });

  it("interval: the first append after a quiet interval is synced at once; later ones wait for the one trailing sync, which waitForData waits for", async () => {
    const s = open(tempDir(), { fsync: "interval", fsyncIntervalMs: 50 });
    opened.push(s);
    s.append(items(3));
    const t0 = performance.now();
    expect(s.lease(10, 1 << 20).map((r) => r.seq)).toEqual([1, 2, 3]);
    s.append(items(2));
    expect(s.lease(10, 1 << 20)).toEqual([]);
    await s.waitForData();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(40);
    expect(s.lease(10, 1 << 20).map((r) => r.seq)).toEqual([4, 5]);
  });

  it("interval: sync() makes records leasable at once", () => {
    const s = open(tempDir(), { fsync: "interval", fsyncIntervalMs: 60_000 });
    opened.push(s);
    s.append(items(2));
    s.sync();
    expect(s.lease(10, 1 << 20)).toHaveLength(2);
  });

  for (const fsync of ["always", "interval", "never"] as const) {
    it(`${fsync}: everything appended is there after close and reopen`, () => {
      const dir = tempDir();
      const a = open(dir, { fsync, fsyncIntervalMs: 60_000, segmentBytes: 500, maxBytes: 100_000 });
      for (let i = 0; i < 10; i++) a.append(items(3));
      a.close();
      const b = open(dir, { fsync });
      opened.push(b);
      expect(drain(b).map((r) => r.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    });
  }
});
