import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DiskSpool, Priority, SpoolConfigError, SpoolLockedError } from "../../src/spool";
import { drain, item, items, open, seqInPayload, segmentFiles, tempDir } from "./helpers";

const opened: DiskSpool[] = [];
function track(s: DiskSpool): DiskSpool {
  opened.push(s);
  return s;
}
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

describe("append / lease / commit / rewind", () => {
  it("assigns increasing seqs from 1 and hands the seq to encode", () => {
    const spool = track(open(tempDir()));
    expect(spool.append(items(3))).toEqual([1, 2, 3]);
    expect(spool.append([item("auth", Priority.High)])).toEqual([4]);
    const leased = drain(spool);
    expect(leased.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(leased.map(seqInPayload)).toEqual([1, 2, 3, 4]);
    expect(leased[3]).toMatchObject({ kind: "auth", priority: Priority.High });
  });

  it("leases each record once, honours maxRecords and maxBytes, and rewinds to the oldest unacked", () => {
    const spool = track(open(tempDir()));
    spool.append(items(10, "file", Priority.Low, 100));
    expect(spool.lease(4, 1 << 20).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    // 250 bytes of payload fit two 100-byte records.
    expect(spool.lease(100, 250).map((r) => r.seq)).toEqual([5, 6]);
    // A single record larger than maxBytes is still leased, alone.
    expect(spool.lease(100, 10).map((r) => r.seq)).toEqual([7]);
    spool.commit(5);
    expect(spool.stats()).toMatchObject({ records: 5, ackedSeq: 5, leasedUpTo: 7, lastSeq: 10 });
    spool.rewind();
    expect(drain(spool).map((r) => r.seq)).toEqual([6, 7, 8, 9, 10]);
    expect(spool.lease(10, 1 << 20)).toEqual([]);
  });

  it("an ack beyond what was leased moves the lease past it", () => {
    const spool = track(open(tempDir()));
    spool.append(items(5));
    spool.commit(3);
    expect(drain(spool).map((r) => r.seq)).toEqual([4, 5]);
  });

  it("waitForData resolves when a record is appended", async () => {
    const spool = track(open(tempDir()));
    let woke = false;
    const waiting = spool.waitForData().then(() => (woke = true));
    await Promise.resolve();
    expect(woke).toBe(false);
    spool.append(items(1));
    await waiting;
    expect(spool.lease(10, 1 << 20)).toHaveLength(1);
    // Leased everything: a new wait only ends on abort.
    const ac = new AbortController();
    const w2 = spool.waitForData(ac.signal);
    ac.abort();
    await w2;
  });

  it("rolls segments at segmentBytes and deletes them once fully acked", () => {
    const dir = tempDir();
    const spool = track(open(dir, { segmentBytes: 1000, maxBytes: 100_000 }));
    for (let i = 0; i < 30; i++) spool.append(items(2)); // 90-byte records, 180 per batch
    const segs = segmentFiles(dir);
    expect(segs.length).toBe(6);
    expect(segs[0]).toBe("000000000001.seg");
    for (const s of segs) expect(fs.statSync(path.join(dir, s)).size).toBeLessThanOrEqual(1000);
    expect(spool.stats()).toMatchObject({ records: 60, segments: 6, bytes: 60 * 90 });

    // 000000000011.seg holds seqs 11..20; acking 15 deletes only the first segment.
    spool.commit(15);
    expect(segmentFiles(dir)).toEqual(segs.slice(1));
    expect(spool.stats()).toMatchObject({ records: 45, segments: 5 });
    spool.commit(60);
    expect(segmentFiles(dir)).toEqual([]);
    expect(spool.stats()).toMatchObject({ records: 0, bytes: 0, segments: 0 });
    expect(spool.append(items(1))).toEqual([61]);
    expect(segmentFiles(dir)).toEqual(["000000000061.seg"]);
  });
});

describe("restart", () => {
  it("replays from the oldest unacked record and never reuses a seq", () => {
    const dir = tempDir();
    const a = open(dir);
    a.append(items(10));
    a.lease(8, 1 << 20);
    a.commit(6);
    a.close();

    const b = track(open(dir));
    expect(b.stats()).toMatchObject({ records: 4, ackedSeq: 6, leasedUpTo: 6, lastSeq: 10 });
    expect(drain(b).map((r) => r.seq)).toEqual([7, 8, 9, 10]);
    expect(b.append(items(1))).toEqual([11]);
  });

  it("keeps counting seqs after every record was acked and every segment deleted", () => {
    const dir = tempDir();
    const a = open(dir);
    a.append(items(5));
    a.commit(5);
    expect(segmentFiles(dir)).toEqual([]);
    a.close();
    const b = track(open(dir));
    expect(b.append(items(1))).toEqual([6]);
  });

  it("an ack above the local last seq is never adopted: counted, nothing acked, and the counter stays", () => {
    const spool = track(open(tempDir()));
    spool.append(items(2));
    expect(spool.commit(50)).toBe(0);
    expect(spool.stats()).toMatchObject({ ackedSeq: 0, lastSeq: 2, records: 2, acksBeyondLast: 1 });
    expect(spool.append(items(1))).toEqual([3]);
  });
});

describe("bad input", () => {
  it("rejects bad options with a clear error", () => {
    const dir = tempDir();
    expect(() => DiskSpool.open({ dir, maxBytes: -1 })).toThrow(SpoolConfigError);
    expect(() => DiskSpool.open({ dir, maxBytes: 1000, segmentBytes: 2000 })).toThrow(/segmentBytes \(2000\) exceeds maxBytes/);
    expect(() => DiskSpool.open({ dir, fsync: "sometimes" as never })).toThrow(/fsync must be one of/);
    expect(() => DiskSpool.open({ dir, fullPolicy: "yolo" as never })).toThrow(/fullPolicy/);
  });

  it("refuses a second writer on the same directory", () => {
    const dir = tempDir();
    track(open(dir));
    expect(() => open(dir)).toThrow(SpoolLockedError);
  });

  it("a failing encode or an oversize kind stores nothing and uses no seq", () => {
    const spool = track(open(tempDir()));
    spool.append(items(1));
    const boom = {
      kind: "process",
      priority: Priority.Low,
      encode: () => {
        throw new Error("encode failed");
      },
    };
    expect(() => spool.append([item("file"), boom])).toThrow("encode failed");
    expect(() => spool.append([item("x".repeat(300))])).toThrow(/longer than 255 bytes/);
    expect(() => spool.append([{ kind: "k", priority: Priority.Low, encode: () => "text" as never }])).toThrow(/did not return bytes/);
    expect(spool.append(items(1))).toEqual([2]);
    expect(drain(spool).map((r) => r.seq)).toEqual([1, 2]);
  });

  it("rejects a nonsense ack", () => {
    const spool = track(open(tempDir()));
    expect(() => spool.commit(-1)).toThrow(RangeError);
    expect(() => spool.commit(1.5)).toThrow(RangeError);
  });
});
