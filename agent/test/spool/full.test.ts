import { afterEach, describe, expect, it } from "vitest";
import { type DiskSpool, NOT_STORED, Priority, SpoolFullError, type AppendItem, type SpoolOptions } from "../../src/spool";
import { drain, item, open, tempDir } from "./helpers";

const opened: DiskSpool[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

/** Appends batches and remembers what append said about each item, to check the books afterwards. */
class Ledger {
  stored = new Map<number, string>();
  refused: Record<string, number> = {};
  constructor(readonly spool: DiskSpool) {}
  append(batch: AppendItem[]): number[] {
    const seqs = this.spool.append(batch);
    seqs.forEach((seq, i) => {
      const kind = batch[i]!.kind;
      if (seq === NOT_STORED) this.refused[kind] = (this.refused[kind] ?? 0) + 1;
      else this.stored.set(seq, kind);
    });
    expect(this.spool.stats().bytes).toBeLessThanOrEqual(maxOf(this.spool));
    return seqs;
  }
  /** Every record append accepted is either still in the spool or counted as dropped; nothing else. */
  checkBooks(): { present: number[]; missing: Map<number, string> } {
    this.spool.rewind();
    const present = drain(this.spool).map((r) => r.seq);
    const missing = new Map([...this.stored].filter(([seq]) => !present.includes(seq)));
    const expected: Record<string, number> = { ...this.refused };
    for (const kind of missing.values()) expected[kind] = (expected[kind] ?? 0) + 1;
    expect(this.spool.dropped()).toEqual(expected);
    return { present, missing };
  }
}

const limits = new WeakMap<DiskSpool, number>();
function maxOf(s: DiskSpool): number {
  return limits.get(s)!;
}
function spoolWith(opts: Partial<SpoolOptions>): { spool: DiskSpool; dir: string } {
  const dir = tempDir();
  const spool = open(dir, opts);
  limits.set(spool, opts.maxBytes!);
  opened.push(spool);
  return { spool, dir };
}

describe("full spool, drop_oldest_low_priority (default)", () => {
  it("drops the oldest low-priority records first, exactly as counted, and keeps every auth record", () => {
    const { spool } = spoolWith({ maxBytes: 9000, segmentBytes: 1800, dropSlackBytes: 0 });
    const ledger = new Ledger(spool);
    for (let i = 0; i < 60; i++) ledger.append([item("network"), item("auth", Priority.High), item("process")]);
    const { present, missing } = ledger.checkBooks();

    expect(missing.size).toBeGreaterThan(0);
    expect([...missing.values()].every((k) => k === "network" || k === "process")).toBe(true);
    const auth = [...ledger.stored].filter(([, k]) => k === "auth").map(([s]) => s);
    expect(auth.every((s) => present.includes(s))).toBe(true);
    // Oldest first: every surviving low-priority record is newer than every dropped one.
    const survivingLow = present.filter((s) => ledger.stored.get(s) !== "auth");
    expect(Math.min(...survivingLow)).toBeGreaterThan(Math.max(...missing.keys()));
    expect(spool.stats().bytes).toBeLessThanOrEqual(9000);
  });

  it("an incoming low record never displaces a stored auth record; an incoming auth drops the oldest auth", () => {
    const { spool } = spoolWith({ maxBytes: 900, segmentBytes: 900, dropSlackBytes: 0 });
    const ledger = new Ledger(spool);
    const first = ledger.append(Array.from({ length: 10 }, () => item("auth", Priority.High, 65))); // 10 x 88 bytes
    expect(first).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(ledger.append([item("network"), item("file")])).toEqual([NOT_STORED, NOT_STORED]);
    // The next stored record gets the next seq: refused records leave no gap.
    expect(ledger.append([item("auth", Priority.High, 65)])).toEqual([11]);
    const { present, missing } = ledger.checkBooks();
    expect([...missing.keys()]).toEqual([1]);
    expect(present).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(spool.dropped()).toEqual({ network: 1, file: 1, auth: 1 });
  });

  it("never drops leased records, which may already be at the controller", () => {
    const { spool } = spoolWith({ maxBytes: 1800, segmentBytes: 900, dropSlackBytes: 0 });
    const ledger = new Ledger(spool);
    ledger.append(Array.from({ length: 10 }, () => item("process")));
    const inFlight = spool.lease(5, 1 << 20).map((r) => r.seq);
    for (let i = 0; i < 20; i++) ledger.append([item("process")]);
    // The lease carries on after the compactions moved records under its cursor: no repeats, no skips.
    const rest = drain(spool).map((r) => r.seq);
    expect(rest[0]).toBeGreaterThan(5);
    const { present, missing } = ledger.checkBooks();
    expect(present).toEqual([1, 2, 3, 4, 5, ...rest]);
    expect(inFlight.every((s) => present.includes(s))).toBe(true);
    expect(Math.min(...missing.keys())).toBe(6);
  });

  it("frees dropSlackBytes more than needed so a full spool does not rewrite per append, still counting exactly", () => {
    const { spool } = spoolWith({ maxBytes: 20_000, segmentBytes: 4000, dropSlackBytes: 2000 });
    const ledger = new Ledger(spool);
    for (let i = 0; i < 100; i++) ledger.append([item("file"), item("network"), item("auth", Priority.High)]);
    const { missing } = ledger.checkBooks();
    expect(missing.size).toBeGreaterThan(0);
    expect(spool.dropped().auth).toBeUndefined();
  });

  it("persists drop counts across a restart", () => {
    const { spool, dir } = spoolWith({ maxBytes: 900, segmentBytes: 900, dropSlackBytes: 0 });
    for (let i = 0; i < 15; i++) spool.append([item("network")]);
    const before = spool.dropped();
    expect(before.network).toBeGreaterThan(0);
    spool.close();
    opened.splice(opened.indexOf(spool), 1);
    const again = open(dir, { maxBytes: 900, segmentBytes: 900 });
    opened.push(again);
    expect(again.dropped()).toEqual(before);
    expect(again.stats().dropped).toEqual(before);
  });
});

describe("full spool, other policies", () => {
  it("drop_newest keeps what is stored and refuses what does not fit", () => {
    const { spool } = spoolWith({ maxBytes: 900, segmentBytes: 900, fullPolicy: "drop_newest" });
    const ledger = new Ledger(spool);
    ledger.append(Array.from({ length: 9 }, () => item("process"))); // 810 bytes
    expect(ledger.append([item("process"), item("auth", Priority.High)])).toEqual([10, NOT_STORED]);
    expect(ledger.append([item("auth", Priority.High)])).toEqual([NOT_STORED]);
    const { present } = ledger.checkBooks();
    expect(present).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(spool.dropped()).toEqual({ auth: 2 });
  });

  it("block drops nothing, throws SpoolFullError, and frees up after an ack", async () => {
    const { spool } = spoolWith({ maxBytes: 900, segmentBytes: 450, fullPolicy: "block" });
    spool.append(Array.from({ length: 10 }, () => item("process")));
    expect(() => spool.append([item("auth", Priority.High)])).toThrow(SpoolFullError);
    expect(spool.stats()).toMatchObject({ lastSeq: 10, records: 10, dropped: {} });
    const space = spool.waitForSpace();
    spool.commit(5);
    await space;
    expect(spool.append([item("auth", Priority.High)])).toEqual([11]);
  });
});
