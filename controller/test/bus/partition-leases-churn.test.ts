import { randomBytes } from "node:crypto";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus } from "../../src/bus/nats-connection";
import { PartitionLeases } from "../../src/bus/partition-leases";
import { BusNames, deleteAllWithPrefix, ensureKv } from "../../src/bus/streams";
import { faultyKv } from "../support/faulty-kv";
import { waitFor } from "../support/wait";

/**
 * Lease churn under slow work and a lossy, slow NATS path (issue #12: 301 leases lost in the
 * 10,000-agent bench). Real NATS JetStream on 127.0.0.1:4222; faults are injected on the replies
 * only (test/support/faulty-kv.ts), so the server state is always real.
 */
const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const names = new BusNames(`tc${randomBytes(4).toString("hex")}`);
const quiet = () => undefined;
const TTL = 1_500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let nc: NatsConnection;
let bucketSeq = 0;

beforeAll(async () => {
  nc = await connectBus({ url: NATS_URL, name: "partition-leases-churn-test", log: quiet });
});
afterAll(async () => {
  await deleteAllWithPrefix(nc, names);
  await closeBus(nc);
});

const bucket = () => ensureKv(nc, names.leaseBucket(`churn${bucketSeq++}`), TTL);

/** Who works on each partition now, across replicas: a partition must never have two. */
class Work {
  readonly working = new Map<number, string>();
  readonly doubleOwned: number[] = [];
  /** Per replica: partitions whose work was stopped, in order. */
  readonly lost = new Map<string, number[]>();
  started(id: string, p: number): void {
    if (this.working.has(p)) this.doubleOwned.push(p);
    this.working.set(p, id);
  }
  stopped(id: string, p: number): void {
    if (this.working.get(p) === id) this.working.delete(p);
    this.lost.set(id, [...(this.lost.get(id) ?? []), p]);
  }
  lostBy(id: string): number[] {
    return this.lost.get(id) ?? [];
  }
}

interface ReplicaOptions {
  kv: KV;
  id: string;
  partitions: number;
  work: Work;
  /** Time work takes to start on / stop on a partition. */
  startMs?: (p: number) => number;
  stopMs?: (p: number) => number;
}

function replica(o: ReplicaOptions): PartitionLeases {
  return new PartitionLeases({
    kv: o.kv,
    replicaId: o.id,
    partitions: o.partitions,
    ttlMs: TTL,
    log: quiet,
    onAcquired: async (p) => {
      o.work.started(o.id, p);
      await sleep(o.startMs?.(p) ?? 0);
    },
    onLost: async (p) => {
      await sleep(o.stopMs?.(p) ?? 0);
      o.work.stopped(o.id, p);
    },
  });
}

/** The replica id in part.<p> on the server right now (undefined: nobody holds it). */
async function holderOf(kv: KV, p: number): Promise<string | undefined> {
  const e = await kv.get(`part.${p}`);
  return e && e.operation === "PUT" ? e.string().split("/")[0] : undefined;
}

describe("PartitionLeases under churn (real NATS KV, injected faults)", () => {
  it("a slow stop of shed partitions neither lets the kept partitions expire nor lets the shed ones go before their work stopped", async () => {
    const kv = await bucket();
    const work = new Work();
    // A's work takes two TTLs to stop: renewals of everything else must go on meanwhile.
    const a = replica({ kv, id: "a", partitions: 4, work, stopMs: () => 2 * TTL });
    a.start();
    await waitFor("a to hold all 4", () => a.owned().length === 4 && work.working.size === 4);
    const b = replica({ kv, id: "b", partitions: 4, work });
    b.start();
    await waitFor("a and b to hold 2 each", () => a.owned().length === 2 && b.owned().length === 2 && work.working.size === 4, 20_000);
    await sleep(2 * TTL);
    // A stopped work only on the two it shed, once each; the two it kept were never lost.
    const kept = a.owned();
    expect(kept).toHaveLength(2);
    expect(work.lostBy("a").sort()).toEqual([0, 1, 2, 3].filter((p) => !kept.includes(p)));
    expect(work.doubleOwned).toEqual([]);
    expect(a.stats.expiredLocally + a.stats.lostToOther).toBe(0);
    expect(a.stats.released).toBe(2);
    await Promise.all([a.stop(), b.stop()]);
  });

  it("a slow start on new partitions does not let the partitions already held expire", async () => {
    const kv = await bucket();
    const work = new Work();
    // Every start takes longer than the TTL (a consumer whose first fetch is slow under load).
    const a = replica({ kv, id: "slowstart", partitions: 4, work, startMs: () => TTL + 500 });
    a.start();
    await waitFor("all 4 held and started", () => a.owned().length === 4 && work.working.size === 4, 20_000);
    await sleep(3 * TTL);
    expect(work.lostBy("slowstart")).toEqual([]);
    for (let p = 0; p < 4; p++) expect(await holderOf(kv, p)).toBe("slowstart");
    expect(a.stats.expiredLocally).toBe(0);
    expect(a.stats.acquired).toBe(4);
    await a.stop();
  });

  it("a slow reply to the membership listing does not delay renewals", async () => {
    const base = await bucket();
    const f = faultyKv(base);
    const work = new Work();
    const a = replica({ kv: f.kv, id: "slowlist", partitions: 2, work });
    a.start();
    await waitFor("both held", () => a.owned().length === 2 && work.working.size === 2);
    f.faults.replyDelayMs = ({ op }) => (op === "keys" ? 2 * TTL : 0);
    await sleep(3 * TTL);
    expect(work.lostBy("slowlist")).toEqual([]);
    expect(a.owned()).toEqual([0, 1]);
    f.faults.replyDelayMs = undefined;
    await a.stop();
  });

  it("a renewal whose reply was lost after it landed keeps the partition (the new revision is adopted)", async () => {
    const base = await bucket();
    const f = faultyKv(base);
    const work = new Work();
    const a = replica({ kv: f.kv, id: "lossy", partitions: 2, work });
    a.start();
    await waitFor("both held", () => a.owned().length === 2 && work.working.size === 2);
    let drops = 2;
    // Two renewals of partition 0 land on the server, but their replies never come back.
    f.faults.dropReply = ({ op, key }) => op === "update" && key === "part.0" && drops-- > 0;
    await waitFor("two replies dropped", () => f.dropped.get("update") === 2, 10_000, 20);
    await sleep(2 * TTL);
    expect(work.lostBy("lossy")).toEqual([]);
    expect(a.owned()).toEqual([0, 1]);
    expect(await holderOf(base, 0)).toBe("lossy");
    expect(a.stats.renewalsRecovered).toBeGreaterThanOrEqual(1);
    expect(a.stats.lostToOther + a.stats.expiredLocally).toBe(0);
    await a.stop();
  });

  it("a member that flaps in and out for a moment makes nobody shed", async () => {
    const kv = await bucket();
    const work = new Work();
    const a = replica({ kv, id: "steady", partitions: 4, work });
    a.start();
    await waitFor("a to hold all 4", () => a.owned().length === 4 && work.working.size === 4);
    // A replica that keeps crashing right after its first heartbeat: seen for under two rounds each time.
    for (let i = 0; i < 5; i++) {
      await kv.put("member.flapper", JSON.stringify({ at: Date.now() }));
      await sleep(TTL / 5 + 50);
      await kv.delete("member.flapper");
      await sleep(TTL);
    }
    expect(work.lostBy("steady")).toEqual([]);
    expect(a.owned()).toEqual([0, 1, 2, 3]);
    await a.stop();
  });

  it("a member entry older than the TTL (a dead replica's) is not counted", async () => {
    const kv = await bucket();
    const work = new Work();
    const a = replica({ kv, id: "alive", partitions: 4, work });
    a.start();
    await waitFor("a to hold all 4", () => a.owned().length === 4 && work.working.size === 4);
    // Rewritten all along (so the bucket's TTL does not remove it), but with a timestamp long past.
    const until = Date.now() + 3 * TTL;
    while (Date.now() < until) {
      await kv.put("member.ghost", JSON.stringify({ at: Date.now() - 10 * TTL }));
      await sleep(100);
    }
    expect(work.lostBy("alive")).toEqual([]);
    expect(a.owned()).toEqual([0, 1, 2, 3]);
    expect(a.liveReplicas).toBe(1);
    await kv.delete("member.ghost");
    await a.stop();
  });

  it("a member listed twice (rewritten while the listing ran) is counted once", async () => {
    const f = faultyKv(await bucket());
    const work = new Work();
    const a = replica({ kv: f.kv, id: "counter", partitions: 4, work });
    a.start();
    await waitFor("a to hold all 4", () => a.owned().length === 4);
    f.faults.repeatListedKeys = true;
    const other = replica({ kv: f.kv, id: "other", partitions: 4, work });
    other.start();
    const counts = new Set<number>();
    const until = Date.now() + 3 * TTL;
    while (Date.now() < until) {
      counts.add(a.liveReplicas);
      await sleep(20);
    }
    // Two members, so each keeps ceil(4/2) = 2: never counted three and shed down to one.
    expect([...counts].filter((n) => n > 2)).toEqual([]);
    expect(a.owned()).toHaveLength(2);
    expect(other.owned()).toHaveLength(2);
    await Promise.all([a.stop(), other.stop()]);
  });

  it("a replica that really joins still gets its share, and stop() can be called twice", async () => {
    const kv = await bucket();
    const work = new Work();
    const a = replica({ kv, id: "first", partitions: 4, work });
    a.start();
    await waitFor("a to hold all 4", () => a.owned().length === 4);
    const joinedAt = Date.now();
    const b = replica({ kv, id: "second", partitions: 4, work });
    b.start();
    await waitFor("a and b to hold 2 each", () => a.owned().length === 2 && b.owned().length === 2 && work.working.size === 4, 10_000);
    // The hysteresis delays the hand-over by a couple of rounds, not by many TTLs.
    expect(Date.now() - joinedAt).toBeLessThan(3 * TTL);
    expect(work.doubleOwned).toEqual([]);
    const stops = [b.stop(), b.stop()];
    await Promise.all(stops);
    await b.stop();
    // Each of its two partitions stopped once, however many times stop() was called.
    expect(work.lostBy("second")).toHaveLength(2);
    expect(new Set(work.lostBy("second")).size).toBe(2);
    await waitFor("a to take all 4 back", () => a.owned().length === 4, 10_000);
    await a.stop();
  });
});
