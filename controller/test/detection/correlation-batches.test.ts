/**
 * Routed correlation inputs travel in batches (issue #12): one JetStream message per partition for
 * each chunk's inputs instead of one per input, on the real NATS JetStream. The owner still gets
 * every input once, in stream order, without waiting for a later message to push them out; a
 * route retried after a lost PubAck is dropped by the stream; a batch carrying hostile entries
 * loses none of its good inputs and counts each bad one.
 */
import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionOf } from "../../src/bus/partition";
import { BusNames, deleteAllWithPrefix } from "../../src/bus/streams";
import type { OwnedInput, RoutedInput } from "../../src/detection/engine-protocol";
import { JetStreamCorrelationRouter } from "../../src/detection/jetstream-correlation-router";
import { MAX_BATCH_INPUTS, parseCorrelationMessage } from "../../src/detection/routed-input-check";
import { waitFor } from "../support/wait";

const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const PARTITIONS = 4;

let next = 0;
function input(user: string, agentId = "agent-1"): RoutedInput {
  const seq = ++next;
  return {
    key: `corr-x|${JSON.stringify([user])}`,
    anchor: "corr-x",
    target: "corr-x",
    rule: "login",
    agentId,
    seq,
    ev: { logsource: { product: "linux", service: "sshd" }, fields: { User: user, Message: `Accepted publickey for ${user}`, Seq: seq }, timeMs: 1_700_000_000_000 + seq },
  };
}

const id = (x: RoutedInput) => `${x.agentId}:${x.seq}`;

describe("routed correlation inputs in batches (real JetStream)", () => {
  let nc: NatsConnection;
  let names: BusNames;
  let router: JetStreamCorrelationRouter;
  const got: OwnedInput[] = [];

  beforeAll(async () => {
    nc = await natsConnect({ servers: NATS_URL });
    names = new BusNames(`cb${randomBytes(4).toString("hex")}`);
    router = new JetStreamCorrelationRouter({ nc, names, partitions: PARTITIONS, replicaId: "only", leaseTtlMs: 3_000, log: () => undefined });
    await router.start({
      accept: async (inputs) => void got.push(...inputs),
      drop: async () => undefined,
      clocks: async () => undefined,
    });
    await waitFor("every partition owned", () => router.ownedPartitions().length === PARTITIONS, 20_000);
  }, 30_000);

  afterAll(async () => {
    await router?.stop();
    if (nc) {
      await deleteAllWithPrefix(nc, names);
      await nc.close();
    }
  });

  const storedMessages = async () => (await (await jetstreamManager(nc)).streams.info(names.corrStream)).state.messages;

  it("a chunk's inputs go in a few messages per partition, and the owner gets each once, in order, with no clocks behind them", async () => {
    // 1,000 inputs from 10 hosts over 40 users, as one detection chunk routes them; no clocks follow.
    const chunk = Array.from({ length: 1_000 }, (_, i) => input(`user${i % 40}`, `agent-${i % 10}`));
    await router.route(chunk);
    const byPartition = new Map<number, number>();
    for (const x of chunk) byPartition.set(partitionOf(x.key, PARTITIONS), (byPartition.get(partitionOf(x.key, PARTITIONS)) ?? 0) + 1);
    const expectedMessages = [...byPartition.values()].reduce((n, c) => n + Math.ceil(c / MAX_BATCH_INPUTS), 0);
    expect(router.stats.published).toBe(expectedMessages);
    expect(await storedMessages()).toBe(expectedMessages);
    expect(router.stats.routed).toBe(1_000);

    await waitFor("all 1,000 inputs handed to the owner", () => got.length >= 1_000, 10_000);
    expect(new Set(got.map(id)).size).toBe(1_000);
    expect(got.map(id).sort()).toEqual(chunk.map(id).sort());
    for (const x of got) expect(x.partition).toBe(partitionOf(x.key, PARTITIONS));
    // Within a partition, the owner sees the inputs in the order they were routed.
    for (let p = 0; p < PARTITIONS; p++) {
      expect(got.filter((x) => x.partition === p).map(id)).toEqual(chunk.filter((x) => partitionOf(x.key, PARTITIONS) === p).map(id));
    }
  });

  it("inputs in hand reach the owner though the stream goes quiet after them (no later message pushes them out)", async () => {
    // Single-input messages, the form of replicas before batches, in five waves with a quiet stream
    // after each: the consumer refills its pull requests many times, and its pending count can stay
    // above zero after a wave's last message (the pump before its flush timer kept them, here, every run). Each wave must be
    // handed over before the next one could push it out.
    const js = jetstream(nc);
    for (let wave = 0; wave < 5; wave++) {
      const singles = Array.from({ length: 600 }, (_, i) => input(`single${wave}-${i % 50}`, `agent-${i % 7}`));
      await Promise.all(singles.map((x) => js.publish(names.corrSubject(partitionOf(x.key, PARTITIONS)), JSON.stringify(x), { msgID: `single-${id(x)}` })));
      const want = new Set(singles.map(id));
      await waitFor(`wave ${wave} handed over`, () => got.filter((x) => want.has(id(x))).length === want.size, 3_000, 20);
    }
  });

  it("a route retried with the same inputs (its PubAck lost) is dropped by the stream", async () => {
    const chunk = Array.from({ length: 30 }, (_, i) => input(`retry${i % 3}`));
    const before = await storedMessages();
    await router.route(chunk);
    const once = await storedMessages();
    expect(once).toBeGreaterThan(before);
    await router.route(chunk);
    expect(await storedMessages()).toBe(once);
    // A marker routed after the retry: once it is in, anything of the retry would have been too.
    const marker = input("marker-after-retry");
    await router.route([marker]);
    await waitFor("the marker handed over", () => got.some((x) => id(x) === id(marker)), 10_000);
    for (const x of chunk) expect(got.filter((y) => id(y) === id(x))).toHaveLength(1);
  });

  it("a batch with hostile entries keeps its good inputs and counts each bad one; a batch over the limit is rejected whole", async () => {
    const js = jetstream(nc);
    const good = [input("hostile-a"), input("hostile-b")];
    const p = partitionOf(good[0]!.key, PARTITIONS);
    const q = partitionOf(good[1]!.key, PARTITIONS);
    // Someone who can publish on the subject: both good inputs must reach the owner of their own partition.
    const otherPartition = Array.from({ length: 100 }, (_, i) => input(`elsewhere${i}`)).find((x) => partitionOf(x.key, PARTITIONS) !== p)!;
    const rejectedBefore = router.stats.rejected;
    const hostile = [
      good[0],
      { ...good[0], seq: "1" },
      "not an object",
      otherPartition,
      { ...good[0], ev: { ...good[0]!.ev, fields: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, i])) } },
    ];
    await js.publish(names.corrSubject(p), JSON.stringify({ inputs: hostile }), { msgID: `hostile-${next}` });
    await js.publish(names.corrSubject(q), JSON.stringify({ inputs: [good[1]] }), { msgID: `hostile-good-${next}` });
    await js.publish(names.corrSubject(p), JSON.stringify({ inputs: Array.from({ length: MAX_BATCH_INPUTS + 1 }, () => input("too-many")) }), { msgID: `hostile-big-${next}` });
    await js.publish(names.corrSubject(p), JSON.stringify({ inputs: [] }), { msgID: `hostile-empty-${next}` });
    await waitFor("both good inputs handed over", () => good.every((g) => got.some((x) => id(x) === id(g))), 10_000);
    // seq as a string, not an object, over 512 fields, another partition's key: four; the oversized and the empty batch: one each.
    await waitFor("each bad entry counted", () => router.stats.rejected - rejectedBefore === 6, 10_000);
    expect(got.some((x) => id(x) === id(otherPartition))).toBe(false);
    expect(got.some((x) => x.ev.fields.User === "too-many")).toBe(false);
  });

  it("the checker reads batches, single inputs (replicas before batches) and clocks alike", () => {
    const a = input("reader");
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    const batch = parseCorrelationMessage(enc({ inputs: [a, { nope: 1 }] }));
    expect(batch.kind).toBe("inputs");
    if (batch.kind !== "inputs") throw new Error("unreachable");
    expect(batch.inputs.map(id)).toEqual([id(a)]);
    expect(batch.rejected.map(String)).toEqual([expect.stringMatching(/seq must be an integer/)]);
    expect(parseCorrelationMessage(enc(a))).toMatchObject({ kind: "input", input: { seq: a.seq } });
    expect(parseCorrelationMessage(enc({ clocks: [["agent-1", 5]] })).kind).toBe("clocks");
    expect(() => parseCorrelationMessage(enc({ inputs: "x" }))).toThrow(/inputs must be a list of 1\.\.256/);
  });
});
