import { randomBytes } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus, redactUrl } from "../../src/bus/nats-connection";
import { partitionOf } from "../../src/bus/partition";
import { PartitionLeases } from "../../src/bus/partition-leases";
import { BusNames, deleteAllWithPrefix, ensureKv } from "../../src/bus/streams";
import { waitFor } from "../support/wait";

// Real NATS JetStream on 127.0.0.1:4222 (CI runs it); a unique prefix keeps parallel runs apart.
const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const names = new BusNames(`tl${randomBytes(4).toString("hex")}`);
const quiet = () => undefined;
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectBus({ url: NATS_URL, name: "partition-leases-test", log: quiet });
});
afterAll(async () => {
  await deleteAllWithPrefix(nc, names);
  await closeBus(nc);
});

describe("partitionOf", () => {
  it("is stable and spreads keys over every partition", () => {
    expect(partitionOf("agent-1", 16)).toBe(partitionOf("agent-1", 16));
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) counts[partitionOf(`agent-${i}`, 16)]++;
    expect(Math.min(...counts)).toBeGreaterThan(700);
    expect(Math.max(...counts)).toBeLessThan(1300);
    expect(() => partitionOf("x", 0)).toThrow(RangeError);
  });
});

describe("redactUrl", () => {
  it("never shows credentials", () => {
    expect(redactUrl("nats://user:s3cret@host:4222,tls://tok@other:4443")).toBe("nats://***@host:4222,tls://***@other:4443");
    expect(redactUrl("127.0.0.1:4222")).toBe("nats://127.0.0.1:4222");
  });
});

describe("PartitionLeases (real NATS KV)", () => {
  it("splits partitions fairly, hands a stopped replica's share over, and takes a crashed replica's share only after it stopped", async () => {
    const ttlMs = 1_500;
    const kv = await ensureKv(nc, names.leaseBucket("test"), ttlMs);
    const P = 8;
    // Who works on each partition right now: a partition must never have two.
    const working = new Map<number, string>();
    const doubleOwned: number[] = [];
    const make = (id: string) =>
      new PartitionLeases({
        kv,
        replicaId: id,
        partitions: P,
        ttlMs,
        log: quiet,
        onAcquired: (p) => {
          if (working.has(p)) doubleOwned.push(p);
          working.set(p, id);
        },
        onLost: (p) => {
          if (working.get(p) === id) working.delete(p);
        },
      });
    const a = make("ra");
    const b = make("rb");
    const c = make("rc");
    for (const r of [a, b, c]) r.start();
    await waitFor("3 replicas to hold all 8 partitions, at most ceil(8/3)=3 each", () => {
      const sizes = [a, b, c].map((r) => r.owned().length);
      return sizes.reduce((x, y) => x + y, 0) === P && Math.max(...sizes) <= 3 && working.size === P;
    });
    const owners = [a, b, c].flatMap((r) => r.owned());
    expect(new Set(owners).size).toBe(P);

    // A clean stop releases at once: the other two share all 8.
    await c.stop();
    await waitFor("2 replicas to hold all 8 partitions", () => a.owned().length + b.owned().length === P && a.owned().length === 4);

    const bOwned = b.owned();
    // Simulate the crash of b: its timer stops without releasing anything (kill -9).
    (b as unknown as { stopped: boolean }).stopped = true;
    clearTimeout((b as unknown as { timer: NodeJS.Timeout }).timer);
    for (const p of bOwned) working.delete(p);
    await waitFor("a to take b's partitions after the TTL", () => a.owned().length === P, 15_000);
    expect(doubleOwned).toEqual([]);
    await a.stop();
  });

  it("a lost partition whose work is slow to stop holds up neither the other leases' renewal nor is claimed again before it stopped", async () => {
    const ttlMs = 1_500;
    const kv = await ensureKv(nc, names.leaseBucket("slow"), ttlMs);
    let release = () => {};
    const stopped = new Promise<void>((r) => (release = r));
    const acquired: number[] = [];
    const r = new PartitionLeases({
      kv,
      replicaId: "slowstop",
      partitions: 2,
      ttlMs,
      log: quiet,
      onAcquired: (p) => void acquired.push(p),
      // Partition 0's work takes its time to stop (a last write under load).
      onLost: (p) => (p === 0 ? stopped : undefined),
    });
    r.start();
    await waitFor("both partitions held", () => r.owned().length === 2);
    // Another writer takes partition 0's key: the next renewal finds it gone.
    await kv.put("part.0", "intruder");
    await waitFor("partition 0 given up", () => !r.owned().includes(0));
    await kv.delete("part.0");
    // Three TTLs later partition 1 is still held (renewed meanwhile), and 0 was not claimed while its work stops.
    await new Promise((res) => setTimeout(res, 3 * ttlMs));
    expect(r.owned()).toEqual([1]);
    // Renewed on the server, not merely listed here: nobody else can create its key.
    await expect(kv.create("part.1", "other")).rejects.toThrow();
    expect(acquired.filter((p) => p === 0)).toHaveLength(1);
    release();
    await waitFor("partition 0 claimed again once its work stopped", () => r.owned().includes(0));
    await r.stop();
  });

  it("gives up a partition locally when renewals stop succeeding", async () => {
    const ttlMs = 2_000;
    const kv = await ensureKv(nc, names.leaseBucket("cut"), ttlMs);
    let cut = false;
    // A KV whose writes fail once `cut` is set: stands in for a network partition from NATS.
    const flaky = new Proxy(kv, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv) as unknown;
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => (cut ? Promise.reject(new Error("TIMEOUT")) : (v as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const lost: number[] = [];
    let acquiredAt = 0;
    const r = new PartitionLeases({ kv: flaky, replicaId: "solo", partitions: 2, ttlMs, log: quiet, onAcquired: () => void (acquiredAt = Date.now()), onLost: (p) => void lost.push(p) });
    r.start();
    await waitFor("both partitions held", () => r.owned().length === 2);
    cut = true;
    const cutAt = Date.now();
    await waitFor("work stopped on both partitions", () => lost.length === 2, 5_000, 20);
    // Stopped before the server-side TTL could have let anyone else in.
    expect(Date.now() - cutAt).toBeLessThan(ttlMs);
    expect(acquiredAt).toBeGreaterThan(0);
    await r.stop();
  });
});
