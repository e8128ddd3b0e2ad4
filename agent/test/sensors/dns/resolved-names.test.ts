import { describe, expect, it } from "vitest";
import { PendingQueries, queryKey, ResolvedNames } from "../../../src/sensors/dns";

/** A clock the test moves by hand: TTLs and waits are decided by it, not by sleeping. */
function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe("ResolvedNames: address -> name from DNS answers, TTL- and size-bounded", () => {
  it("names an address until the answer's TTL (clamped to [30 s, 1 h]) is over", () => {
    const c = clock();
    const names = new ResolvedNames({ now: c.now });
    names.learn("203.0.113.7", "updates.example.com", 120);
    names.learn("203.0.113.8", "zero-ttl.example.com", 0);
    names.learn("203.0.113.9", "day.example.com", 86_400);
    c.advance(29_000);
    expect(names.nameOf("203.0.113.8")).toBe("zero-ttl.example.com"); // a TTL of 0 still names the connect that follows
    c.advance(2_000);
    expect(names.nameOf("203.0.113.8")).toBeUndefined();
    expect(names.nameOf("203.0.113.7")).toBe("updates.example.com");
    c.advance(90_000);
    expect(names.nameOf("203.0.113.7")).toBeUndefined();
    c.advance(3_600_000);
    expect(names.nameOf("203.0.113.9")).toBeUndefined(); // a day-long TTL is kept an hour at most
  });

  it("holds at most maxEntries, dropping the least recently used, under a flood of answers", () => {
    const names = new ResolvedNames({ maxEntries: 100 });
    names.learn("10.0.0.1", "kept.example", 300);
    for (let i = 0; i < 100_000; i++) {
      names.learn(`10.1.${i >> 8}.${i & 0xff}`, `n${i}.flood.example`, 300);
      // Used now and then: a host the agent keeps connecting to stays known through the flood.
      if (i % 50 === 0) expect(names.nameOf("10.0.0.1")).toBe("kept.example");
    }
    expect(names.size).toBe(100);
    expect(names.evicted).toBe(100_001 - 100); // learned without a pid: one entry per answer
    expect(names.nameOf("10.1.0.0")).toBeUndefined();
  });

  it("a connection is named by its own process's answer first, else by the host's latest", () => {
    const names = new ResolvedNames();
    // Process 10 looked the CDN address up as its own name; later, process 66 got an answer naming it otherwise.
    names.learn("198.51.100.9", "files.example.com", 300, 10);
    names.learn("198.51.100.9", "windowsupdate.example", 300, 66);
    expect(names.nameOf("198.51.100.9", 10)).toBe("files.example.com");
    expect(names.nameOf("198.51.100.9", 66)).toBe("windowsupdate.example");
    // A process that never looked it up (nscd did, or it used the literal address): the host's latest.
    expect(names.nameOf("198.51.100.9", 77)).toBe("windowsupdate.example");
    expect(names.nameOf("198.51.100.10", 10)).toBeUndefined();
  });

  it("the latest answer for an address wins, and sweep() forgets expired entries", () => {
    const c = clock();
    const names = new ResolvedNames({ now: c.now });
    names.learn("198.51.100.1", "old.example", 60);
    names.learn("198.51.100.1", "new.example", 60);
    expect(names.nameOf("198.51.100.1")).toBe("new.example");
    c.advance(61_000);
    names.sweep();
    expect(names.size).toBe(0);
  });
});

describe("PendingQueries: queries waiting for their response, bounded", () => {
  it("pairs a response with its query, and gives up a query after the wait", () => {
    const c = clock();
    const p = new PendingQueries<string>({ waitMs: 5000, now: c.now });
    p.add(queryKey(10, 0x1234, "A.Example", 1), "q1");
    p.add(queryKey(10, 0x1235, "a.example", 28), "q2");
    expect(p.take(queryKey(10, 0x1234, "a.example", 1))).toBe("q1"); // names compare case-insensitively
    expect(p.take(queryKey(11, 0x1235, "a.example", 28))).toBeUndefined(); // another process's id is not this one
    c.advance(4999);
    expect(p.expired()).toEqual([]);
    c.advance(2);
    expect(p.expired()).toEqual(["q2"]);
    expect(p.size).toBe(0);
  });

  it("a process spraying queries at a silent server holds at most maxPending; the oldest come back to be reported", () => {
    const p = new PendingQueries<number>({ maxPending: 64 });
    const givenUp: number[] = [];
    for (let i = 0; i < 10_000; i++) givenUp.push(...p.add(queryKey(1, i & 0xffff, `x${i}.tunnel.example`, 16), i));
    expect(p.size).toBe(64);
    expect(givenUp).toHaveLength(10_000 - 64);
    expect(givenUp[0]).toBe(0);
  });
});
