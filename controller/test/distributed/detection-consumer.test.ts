/**
 * Detection reads the events stream through a consumer of its own (issue #12), on the real NATS
 * JetStream and PostgreSQL: storage writes at its own pace while detection is held, detection's
 * offset moves only past what it has finished, a partition's next reader starts there and detects
 * a replay of an agent's events once, a stale reader's commit is fenced, and a hostile message is
 * counted and passed over.
 */
import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect as natsConnect, headers, type NatsConnection } from "@nats-io/transport-node";
import { Event } from "@vigil/proto";
import type { DataSource } from "typeorm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { partitionOf } from "../../src/bus/partition";
import { BusNames, deleteAllWithPrefix, ensureEventsStream } from "../../src/bus/streams";
import { createDataSource } from "../../src/database/data-source";
import { EventCopyStore } from "../../src/database/repositories/event-copy-store";
import { DetectionConsumer, type DetectionFeedTarget } from "../../src/detection/detection-consumer";
import type { DetectBatch, FeedTag } from "../../src/detection/pipeline";
import { encodeEnvelope, META_HEADER } from "../../src/ingest/bus-envelope";
import { StorageConsumer } from "../../src/ingest/storage-consumer";
import { createPgDatabase } from "../support/controller";
import { waitFor } from "../support/wait";

const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const PARTITIONS = 2;
const AGENT = "agent-dc-1";
const P = partitionOf(AGENT, PARTITIONS);
const log = () => undefined;

/** Detection as the consumer sees it, held or let through by the test. */
class HeldDetection implements DetectionFeedTarget {
  readonly got: Array<{ batch: DetectBatch; tag: FeedTag }> = [];
  readonly dropped: number[] = [];
  private room: boolean;
  private waiters: Array<() => void> = [];

  constructor(room = true) {
    this.room = room;
  }

  enqueue(batch: DetectBatch, tag: FeedTag): void {
    this.got.push({ batch, tag });
  }
  waitForRoom(): Promise<void> {
    return this.room ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
  dropPartition(partition: number): void {
    this.dropped.push(partition);
  }
  open(): void {
    this.room = true;
    for (const w of this.waiters.splice(0)) w();
  }
  /** Seqs handed on as fresh, in order. */
  freshSeqs(): number[] {
    return this.got.flatMap(({ batch }) => batch.events.filter((_, i) => batch.fresh[i]).map((e) => e.seq));
  }
  replayedSeqs(): number[] {
    return this.got.flatMap(({ batch }) => batch.events.filter((_, i) => !batch.fresh[i]).map((e) => e.seq));
  }
}

let pg: Awaited<ReturnType<typeof createPgDatabase>>;
let ds: DataSource;
let store: EventCopyStore;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
const prefixes: BusNames[] = [];
const running: Array<{ stopAll(): Promise<void> }> = [];

beforeAll(async () => {
  pg = await createPgDatabase();
  ds = createDataSource({ url: pg.url });
  await ds.initialize();
  await ds.runMigrations({ transaction: "each" });
  store = new EventCopyStore(ds);
  nc = await natsConnect({ servers: NATS_URL });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
}, 60_000);

afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stopAll()));
});

afterAll(async () => {
  for (const names of prefixes) await deleteAllWithPrefix(nc, names).catch(() => undefined);
  await nc?.close();
  await store?.close();
  await ds?.destroy();
  await pg?.drop();
});

/** A stream of its own for each test. */
async function freshNames(): Promise<BusNames> {
  const names = new BusNames(`dc${randomBytes(4).toString("hex")}`);
  prefixes.push(names);
  await ensureEventsStream(jsm, names);
  return names;
}

/** One agent batch on the stream, as an ingest replica publishes it; returns its stream sequence. */
async function publish(names: BusNames, first: number, count: number, prevAcked: number, msgID?: string): Promise<number> {
  const events = Array.from({ length: count }, (_, i) =>
    Event.fromPartial({ seq: first + i, eventTimeMs: Date.now(), body: { $case: "agent", agent: { kind: "test", message: `event ${first + i}`, attributes: {} } } }),
  );
  const last = first + count - 1;
  const { data, meta } = encodeEnvelope({
    agentId: AGENT,
    events,
    receivedAt: Date.now(),
    prevAcked,
    cursor: { agentId: AGENT, ackedSeq: last, lastSeq: last, gaps: [], missing: 0 },
    reportedTimes: events.map(() => undefined),
  });
  const h = headers();
  h.set(META_HEADER, meta);
  const ack = await js.publish(names.eventsSubject(P, AGENT), data, { headers: h, msgID: msgID ?? `${AGENT}:${first}-${last}` });
  return ack.seq;
}

function detectionOf(names: BusNames, target: DetectionFeedTarget): DetectionConsumer {
  const c = new DetectionConsumer({ js, jsm, names, offsets: store, target, log, commitMs: 50, retryMs: 100 });
  running.push(c);
  return c;
}

const offsetOf = (names: BusNames) => store.readOffset(names.detectionOffsets, P);
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe("detection's own consumer of the events stream (real JetStream and PostgreSQL)", () => {
  it("storage writes everything while detection is held; detection's offset moves only past what it finished, and the next reader starts there", async () => {
    const names = await freshNames();
    const storage = new StorageConsumer({ js, jsm, names, store, hub: { publishStored: () => undefined }, log, retryMs: 100 });
    running.push(storage);
    const held = new HeldDetection(false);
    const d1 = detectionOf(names, held);
    await Promise.all([storage.start(P), d1.start(P)]);

    const seqs: number[] = [];
    seqs.push(await publish(names, 1, 20, 0));
    await waitFor("detection took the first batch", () => held.got.length === 1);
    seqs.push(await publish(names, 21, 20, 20));
    seqs.push(await publish(names, 41, 20, 40));
    seqs.push(await publish(names, 61, 20, 60));
    seqs.push(await publish(names, 81, 20, 80));
    // The same events again through another replica after a failover (another message id): stored once, detected once.
    seqs.push(await publish(names, 41, 20, 40, `${AGENT}:replay-41-60`));
    seqs.push(await publish(names, 101, 20, 100));

    // Storage is not held by detection: every event is written while detection still waits for room.
    await waitFor("storage wrote all 120", () => storage.stats.events === 120);
    expect(storage.stats.duplicates).toBe(20);
    expect(held.got.length).toBe(1);
    expect(await offsetOf(names)).toBe(0);

    held.open();
    await waitFor("detection got every message", () => held.got.length === seqs.length);
    expect(held.freshSeqs()).toEqual(range(1, 120));
    expect(held.replayedSeqs()).toEqual(range(41, 60));
    expect(d1.stats).toMatchObject({ messages: 7, events: 120, replayed: 20, poison: 0 });

    // Detection finishes the first three messages: the offset moves past them, not beyond.
    for (const g of held.got.slice(0, 3)) g.tag.done();
    // Not beyond: the next reader below must still be handed the four messages after it.
    await waitFor("offset past the third message", async () => (await offsetOf(names)) === seqs[2]);

    // The lease is lost: what detection holds of the partition is dropped, and the next reader starts after the offset.
    await d1.stop(P);
    expect(held.dropped).toContain(P);
    const next = new HeldDetection(true);
    const d2 = detectionOf(names, next);
    await d2.start(P);
    // Read in stream order: a message at or below the offset handed on again would come first and show here.
    await waitFor("the next reader got the rest", () => next.freshSeqs().includes(120));
    expect(next.got.length).toBe(4);
    expect(next.freshSeqs()).toEqual(range(61, 120));
    expect(next.replayedSeqs()).toEqual(range(41, 60));
    for (const g of next.got) g.tag.done();
    await waitFor("offset at the last message", async () => (await offsetOf(names)) === seqs[6]);
    // Storage's offset is its own.
    expect(await store.readOffset(names.eventsStream, P)).toBe(seqs[6]);
  });

  it("a stale reader's commit is fenced: it starts again from the offset another replica moved, and hands nothing on twice", async () => {
    const names = await freshNames();
    const target = new HeldDetection();
    const stale = detectionOf(names, target);
    await stale.start(P);
    const s1 = await publish(names, 1, 10, 0);
    await waitFor("the batch handed on", () => target.got.length === 1);
    // Meanwhile the partition's new owner (another replica, same durable name, so not run here) detected it and committed.
    await store.moveOffset({ stream: names.detectionOffsets, part: P, expected: 0, next: s1 });
    target.got[0].tag.done();
    await waitFor("the stale commit was fenced", () => stale.stats.fenced >= 1);
    expect(stale.stats.commits).toBe(0);
    expect(target.dropped).toContain(P);
    // It reads again from the moved offset: the batch is not handed on a second time; the next one is.
    const s2 = await publish(names, 11, 10, 10);
    // In stream order: the first batch handed on again would come before the second and show here.
    await waitFor("the next batch handed on", () => target.freshSeqs().includes(20));
    expect(target.freshSeqs()).toEqual(range(1, 20));
    target.got[1].tag.done();
    await waitFor("committed past it", async () => (await offsetOf(names)) === s2);
  });

  it("a hostile message is counted and passed over, and the offset moves past it", async () => {
    const names = await freshNames();
    const target = new HeldDetection();
    const d = detectionOf(names, target);
    await d.start(P);
    const h = headers();
    h.set(META_HEADER, '{"v":1,"a":"agent-dc-1","r":1,"p":0,"c":{"ackedSeq":999999,"lastSeq":999999,"gaps":[],"missing":0},"t":[]}');
    await js.publish(names.eventsSubject(P, AGENT), new Uint8Array([0xff, 0xff, 0xff]), { headers: h });
    const good = await publish(names, 1, 5, 0);
    await waitFor("the good batch arrived", () => target.got.length === 1);
    expect(d.stats.poison).toBe(1);
    expect(target.freshSeqs()).toEqual(range(1, 5));
    target.got[0].tag.done();
    await waitFor("offset past both", async () => (await offsetOf(names)) === good);
  });
});
