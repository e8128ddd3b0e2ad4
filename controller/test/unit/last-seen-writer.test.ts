import { describe, expect, it } from "vitest";
import { LastSeenWriter } from "../../src/agents/last-seen-writer";
import { waitFor } from "../support/wait";
import type { SeenEntry } from "../../src/database/repositories/agent-repository";

/** A repository that records each batch, and fails when told to (the database away). */
function fakeRepo() {
  const batches: SeenEntry[][] = [];
  let failNext: Error | undefined;
  return {
    batches,
    failWith(err: Error) {
      failNext = err;
    },
    recordSeenMany(entries: readonly SeenEntry[]): Promise<void> {
      if (failNext) {
        const err = failNext;
        failNext = undefined;
        return Promise.reject(err);
      }
      batches.push([...entries]);
      return Promise.resolve();
    },
  };
}

describe("LastSeenWriter: a fleet's heartbeats as one write per interval", () => {
  it("merges notes per agent (latest time, newest status) and writes them in one batch", async () => {
    const repo = fakeRepo();
    const w = new LastSeenWriter(repo, 60_000);
    w.note("a", 100, { spoolRecords: 1 });
    w.note("a", 300);
    w.note("a", 200, { spoolRecords: 2 });
    w.note("b", 50);
    expect(w.pendingStatus("a")).toEqual({ spoolRecords: 2 });
    await w.flush();
    expect(repo.batches).toEqual([
      [
        { id: "a", lastSeen: 300, status: { spoolRecords: 2 } },
        { id: "b", lastSeen: 50, status: undefined },
      ],
    ]);
    await w.flush();
    expect(repo.batches).toHaveLength(1);
    expect(w.pendingStatus("a")).toBeUndefined();
  });

  it("keeps a failed batch for the next flush, under what was noted since", async () => {
    const repo = fakeRepo();
    const errors: unknown[] = [];
    const w = new LastSeenWriter(repo, 60_000, (e) => errors.push(e));
    w.note("a", 100, { isolated: true });
    w.note("b", 100);
    repo.failWith(new Error("connection terminated"));
    await w.flush();
    expect(errors).toHaveLength(1);
    expect(w.stats.failures).toBe(1);
    w.note("a", 400); // newer time, no status: the failed batch's status must survive
    await w.close();
    expect(repo.batches).toEqual([
      [
        { id: "a", lastSeen: 400, status: { isolated: true } },
        { id: "b", lastSeen: 100, status: undefined },
      ],
    ]);
  });

  it("runs a deadlock victim again without reporting it", async () => {
    const repo = fakeRepo();
    const errors: unknown[] = [];
    const w = new LastSeenWriter(repo, 60_000, (e) => errors.push(e));
    w.note("a", 1);
    repo.failWith(Object.assign(new Error("deadlock detected"), { code: "40P01" }));
    await w.flush();
    expect(errors).toEqual([]);
    expect(repo.batches).toEqual([[{ id: "a", lastSeen: 1, status: undefined }]]);
  });

  it("writes on its own after the interval", async () => {
    const repo = fakeRepo();
    const w = new LastSeenWriter(repo, 20);
    w.note("a", 1);
    await waitFor("the timed flush", () => repo.batches.length > 0);
    expect(repo.batches).toEqual([[{ id: "a", lastSeen: 1, status: undefined }]]);
    await w.close();
  });
});
