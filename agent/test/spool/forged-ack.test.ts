import * as fs from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { DiskSpool } from "../../src/spool";
import { drain, items, open, seqInPayload, tempDir } from "./helpers";

/**
 * Issue #10 class 2, the agent's side: an ack of 2^53−1 was adopted, after
 * which the spool could not number another event ("events lost … EEXIST") and
 * the agent sent nothing more, across restarts.
 */
const POISON = 2 ** 53 - 1;

const opened: DiskSpool[] = [];
function track(s: DiskSpool): DiskSpool {
  opened.push(s);
  return s;
}
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

describe("a forged ack is never adopted", () => {
  it("an ack of 2^53−1 acknowledges nothing unsent; appends and leases carry on", () => {
    const spool = track(open(tempDir()));
    spool.append(items(5));
    expect(spool.commit(POISON)).toBe(0);
    expect(spool.stats()).toMatchObject({ ackedSeq: 0, lastSeq: 5, records: 5, acksBeyondLast: 1 });
    expect(spool.append(items(3))).toEqual([6, 7, 8]);
    expect(drain(spool).map(seqInPayload)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("answering a sent batch, it takes that batch's last seq and no more", () => {
    const spool = track(open(tempDir()));
    spool.append(items(4));
    spool.commit(2);
    expect(spool.commit(1_000, 3)).toBe(3);
    expect(spool.commit(1_000, 1_000)).toBe(4);
    expect(spool.stats()).toMatchObject({ ackedSeq: 4, records: 0, acksBeyondLast: 2 });
    expect(spool.append(items(1))).toEqual([5]);
  });

  it("the refusal count survives a restart", () => {
    const dir = tempDir();
    const spool = open(dir);
    spool.append(items(2));
    spool.commit(POISON, 2);
    spool.close();
    const again = track(open(dir));
    expect(again.stats()).toMatchObject({ ackedSeq: 2, lastSeq: 2, acksBeyondLast: 1 });
  });
});

describe("a poisoned persisted state heals at open", () => {
  /** What an older agent left after adopting the forged ack: meta at 2^53−1, its real records still on disk. */
  function poisoned(unacked: number): string {
    const dir = tempDir();
    const spool = open(dir);
    spool.append(items(10));
    spool.commit(10 - unacked);
    spool.close();
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "meta.json"), "utf8")) as Record<string, unknown>;
    fs.writeFileSync(path.join(dir, "meta.json"), JSON.stringify({ ...meta, ackedSeq: POISON, lastSeq: POISON }));
    return dir;
  }

  it("records still on disk are kept and sent again; numbering continues after them; the heal is reported and counted", () => {
    const dir = poisoned(4);
    const spool = track(open(dir));
    expect(spool.warnings.join("\n")).toMatch(/persisted ack 9007199254740991 .* beyond the last seq this spool assigned \(10\): clamped/);
    const st = spool.stats();
    expect(st.lastSeq).toBe(10);
    expect(st.ackedSeq).toBeLessThanOrEqual(6);
    expect(st.acksBeyondLast).toBe(1);
    // Everything not truly acked is leased again (the controller dedupes what it had).
    expect(drain(spool).map(seqInPayload)).toEqual(expect.arrayContaining([7, 8, 9, 10]));
    expect(spool.append(items(2))).toEqual([11, 12]);
    spool.commit(12);
    expect(spool.stats()).toMatchObject({ ackedSeq: 12, records: 0 });
  });

  it("the healed state is persisted: a second open finds nothing to heal", () => {
    const dir = poisoned(2);
    open(dir).close();
    const again = track(open(dir));
    expect(again.warnings).toEqual([]);
    expect(again.stats()).toMatchObject({ lastSeq: 10, acksBeyondLast: 1 });
    expect(again.append(items(1))).toEqual([11]);
  });

  it("with nothing left on disk, numbering resumes from the controller's next ack, once", () => {
    const dir = poisoned(0);
    const spool = track(open(dir));
    expect(spool.warnings.join("\n")).toMatch(/resumes from the controller's next ack/);
    // The Welcome: the controller has everything up to 10; no seq it holds is handed out again.
    expect(spool.commit(10)).toBe(10);
    expect(spool.append(items(1))).toEqual([11]);
    // Only once: a later ack beyond the last is refused as usual.
    expect(spool.commit(POISON)).toBe(10);
    expect(spool.append(items(1))).toEqual([12]);
  });

  it("a resync never takes an unsafe ack", () => {
    const spool = track(open(poisoned(0)));
    expect(spool.commit(POISON)).toBe(0);
    expect(spool.append(items(1))).toEqual([1]);
  });
});
