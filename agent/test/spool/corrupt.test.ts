import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DiskSpool } from "../../src/spool";
import { drain, items, open, segmentFiles, tempDir } from "./helpers";

const RECORD = 90; // bytes on disk of one items() record: 8 prefix + 11 header + 7 kind + 64 payload

const opened: DiskSpool[] = [];
function reopen(dir: string): DiskSpool {
  const s = open(dir, { segmentBytes: 900, maxBytes: 100_000 });
  opened.push(s);
  return s;
}
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

/** Two segments of 10 records each (seqs 1..10 and 11..20), closed. */
function twoSegments(): { dir: string; segs: string[] } {
  const dir = tempDir();
  const s = open(dir, { segmentBytes: 900, maxBytes: 100_000 });
  s.append(items(10));
  s.append(items(10));
  s.close();
  const segs = segmentFiles(dir);
  expect(segs).toEqual(["000000000001.seg", "000000000011.seg"]);
  return { dir, segs };
}

describe("torn or corrupt segments", () => {
  it("a record torn by power loss is cut off, reported, and its seq is not reused", () => {
    const { dir, segs } = twoSegments();
    const last = path.join(dir, segs[1]!);
    fs.truncateSync(last, 10 * RECORD - 30);
    const s = reopen(dir);
    expect(s.stats()).toMatchObject({ records: 19, discardedBytes: RECORD - 30, lastSeq: 20 });
    expect(s.warnings.join("\n")).toMatch(/000000000011\.seg at byte 810: torn record/);
    expect(fs.statSync(last).size).toBe(9 * RECORD);
    expect(drain(s).map((r) => r.seq)).toEqual([...Array.from({ length: 19 }, (_, i) => i + 1)]);
    expect(s.append(items(1))).toEqual([21]);
  });

  it("a flipped byte fails the checksum; the segment is cut there and later segments survive", () => {
    const { dir, segs } = twoSegments();
    const first = path.join(dir, segs[0]!);
    const bytes = fs.readFileSync(first);
    bytes[4 * RECORD + 40]! ^= 0x01; // inside record 5's payload
    fs.writeFileSync(first, bytes);
    const s = reopen(dir);
    expect(s.warnings.join("\n")).toMatch(/000000000001\.seg at byte 360: checksum mismatch/);
    expect(s.stats()).toMatchObject({ records: 14, discardedBytes: 6 * RECORD });
    expect(drain(s).map((r) => r.seq)).toEqual([1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  });

  it("zeros after the last record (an extended but unwritten file) are discarded", () => {
    const { dir, segs } = twoSegments();
    fs.appendFileSync(path.join(dir, segs[1]!), Buffer.alloc(4096));
    const s = reopen(dir);
    expect(s.stats()).toMatchObject({ records: 20, discardedBytes: 4096 });
    expect(s.warnings.join("\n")).toMatch(/implausible length 0/);
  });

  it("discarded bytes accumulate across opens and a repaired spool reopens clean", () => {
    const { dir, segs } = twoSegments();
    fs.truncateSync(path.join(dir, segs[1]!), 10 * RECORD - 1);
    reopen(dir).close();
    opened.pop();
    const s = reopen(dir);
    expect(s.warnings).toEqual([]);
    expect(s.stats().discardedBytes).toBe(RECORD - 1);
  });
});

describe("corruption under a running spool", () => {
  it("a record that goes bad after it was written is cut off while leasing; the sender does not stall", () => {
    const dir = tempDir();
    const s = reopen(dir);
    s.append(items(10));
    s.append(items(10));
    const fd = fs.openSync(path.join(dir, "000000000001.seg"), "r+");
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, 4 * RECORD + 40);
    fs.closeSync(fd);
    expect(drain(s).map((r) => r.seq)).toEqual([1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(s.warnings.join("\n")).toMatch(/corrupt record found while leasing: 000000000001\.seg at byte 360: checksum mismatch/);
    expect(s.stats()).toMatchObject({ records: 14, discardedBytes: 6 * RECORD });
    expect(s.append(items(1))).toEqual([21]);
  });
});

describe("damaged or half-written state files", () => {
  it("an unreadable meta.json is kept aside and the spool replays everything on disk", () => {
    const { dir } = twoSegments();
    fs.writeFileSync(path.join(dir, "meta.json"), "{not json");
    const s = reopen(dir);
    expect(s.warnings.join("\n")).toMatch(/unreadable meta\.json .* kept as meta\.json\.corrupt-\d+/);
    expect(fs.readdirSync(dir).some((n) => n.startsWith("meta.json.corrupt-"))).toBe(true);
    expect(s.stats()).toMatchObject({ records: 20, lastSeq: 20 });
  });

  // The crash points inside a compaction are reproduced by leaving the side files a
  // killed process would leave; killing a process at exactly that instruction is not
  // something a test can schedule.
  it("a compaction that crashed before its segment rename is rolled back: old segment, old counts", () => {
    const { dir, segs } = twoSegments();
    fs.writeFileSync(path.join(dir, "000000000001.seg.compact"), "partial");
    fs.writeFileSync(path.join(dir, "meta.json.next"), JSON.stringify({ ackedSeq: 0, lastSeq: 20, dropped: { process: 10 }, discardedBytes: 0 }));
    const s = reopen(dir);
    expect(s.dropped()).toEqual({});
    expect(s.stats().records).toBe(20);
    expect(fs.readdirSync(dir).sort()).toEqual([...segs, "LOCK", "meta.json"]);
  });

  it("a compaction that crashed after its segment rename gets its counts promoted", () => {
    const { dir } = twoSegments();
    fs.writeFileSync(path.join(dir, "meta.json.next"), JSON.stringify({ ackedSeq: 0, lastSeq: 20, dropped: { process: 3 }, discardedBytes: 0 }));
    const s = reopen(dir);
    expect(s.dropped()).toEqual({ process: 3 });
    expect(fs.existsSync(path.join(dir, "meta.json.next"))).toBe(false);
  });

  it("a stray file with a segment-like name is reported and left alone", () => {
    const { dir } = twoSegments();
    fs.writeFileSync(path.join(dir, "backup.seg"), "x");
    const s = reopen(dir);
    expect(s.warnings).toEqual(["ignored unexpected file backup.seg"]);
    expect(fs.existsSync(path.join(dir, "backup.seg"))).toBe(true);
  });
});
