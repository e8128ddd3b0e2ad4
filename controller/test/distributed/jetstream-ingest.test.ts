import { randomBytes } from "node:crypto";
import { headers } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus } from "../../src/bus/nats-connection";
import { partitionOf } from "../../src/bus/partition";
import { BusNames, deleteAllWithPrefix } from "../../src/bus/streams";
import { META_HEADER } from "../../src/ingest/bus-envelope";
import { createPgDatabase, startTestController, type TestController } from "../support/controller";
import { openEventDb, type EventDb } from "../support/event-db";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

// Real NATS JetStream and PostgreSQL (CI runs both); a unique prefix and database keep this file apart.
const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const prefix = `tj${randomBytes(4).toString("hex")}`;
const names = new BusNames(prefix);
const PARTITIONS = 4;

let pg: Awaited<ReturnType<typeof createPgDatabase>>;
let ctl: TestController;
let nc: NatsConnection;
let db: EventDb;

beforeAll(async () => {
  pg = await createPgDatabase();
  ctl = await startTestController({
    databaseUrl: pg.url,
    env: { VIGIL_NATS_URL: NATS_URL, VIGIL_NATS_PREFIX: prefix, VIGIL_PARTITIONS: String(PARTITIONS), VIGIL_PARTITION_LEASE_TTL: "2s" },
  });
  nc = await connectBus({ url: NATS_URL, name: "jetstream-ingest-test", log: () => undefined });
  db = await openEventDb(pg.url);
});

afterAll(async () => {
  await db?.close();
  await ctl?.dispose();
  if (nc) {
    await deleteAllWithPrefix(nc, names);
    await closeBus(nc);
  }
  await pg?.drop();
});

async function connected(agentId: string): Promise<RawAgent> {
  const a = new RawAgent(ctl.grpcPort);
  a.hello(agentId);
  await waitFor("welcome", () => a.received.some((m) => m.msg?.$case === "welcome"));
  return a;
}

function welcomeAck(a: RawAgent): number {
  const w = a.received.find((m) => m.msg?.$case === "welcome")?.msg;
  return w?.$case === "welcome" ? w.welcome.ackedSeq : -1;
}

describe("distributed ingest (JetStream → storage consumer → PostgreSQL)", () => {
  it("stores each event once, acks after JetStream, resumes a reconnect past what was acked, and drops a poison message", async () => {
    const a = await connected("agent-js-1");
    a.events(1, 50);
    await waitFor("ack 50", () => a.lastAck() === 50);
    a.events(51, 50);
    await waitFor("ack 100", () => a.lastAck() === 100);
    await waitFor("100 stored", async () => (await db.totals("agent-js-1")).count === 100);

    // The agent lost the ack of 51-100 and replays it after reconnecting: JetStream dedupes the
    // same message id, and storage (on (agent, seq)) dedupes whatever gets through.
    a.close();
    const b = await connected("agent-js-1");
    expect(welcomeAck(b)).toBe(100);
    b.events(51, 60);
    await waitFor("ack 110", () => b.lastAck() === 110);
    await waitFor("110 stored", async () => (await db.totals("agent-js-1")).count === 110);
    const t = await db.totals("agent-js-1");
    expect(t).toEqual({ count: 110, distinct: 110, min: 1, max: 110 });
    const stats = ctl.distributed!.storage!.consumer.stats;
    expect(stats.duplicates).toBeGreaterThanOrEqual(50);

    // A hostile message on the stream (not from an agent session): counted, terminated, never stored; the partition keeps going.
    const js = jetstream(nc);
    const h = headers();
    h.set(META_HEADER, '{"v":1,"a":"agent-js-1","r":1,"p":0,"c":{"ackedSeq":999999,"lastSeq":999999,"gaps":[],"missing":0},"t":[]}');
    await js.publish(names.eventsSubject(partitionOf("agent-js-1", PARTITIONS), "agent-js-1"), new Uint8Array([0xff, 0xff, 0xff]), { headers: h });
    await waitFor("poison counted", () => stats.poison >= 1);
    // COPY text format: tabs, newlines and backslashes arrive intact; NUL (which PostgreSQL text cannot hold) is dropped, not a wedged partition.
    const odd = "tab\there\nnew line back\\slash nul\u0000end";
    b.events(111, 5, () => ({ body: { $case: "agent", agent: { kind: "test", message: odd, attributes: { "k\tey": "v\\al" } } } }));
    await waitFor("ack 115", () => b.lastAck() === 115);
    await waitFor("115 stored", async () => (await db.totals("agent-js-1")).count === 115);
    const pgc = new Client({ connectionString: pg.url });
    await pgc.connect();
    const row = (await pgc.query<{ data: { message: string; attributes: Record<string, string> } }>("SELECT data FROM events WHERE agent_id = $1 AND seq = 113", ["agent-js-1"])).rows[0];
    await pgc.end();
    expect(row.data.message).toBe(odd.replace("\u0000", ""));
    expect(row.data.attributes).toEqual({ "k\tey": "v\\al" });
    b.close();

    const health = await ctl.get("/api/v1/healthz");
    expect(health.status).toBe(200);
    expect(health.body.role).toBe("all");
    expect(health.body.distributed.partitions).toEqual([0, 1, 2, 3]);
    // Lease counters of storage and of correlation: one replica alone took partitions and nobody else did. (Not
    // expiredLocally: on a loaded machine a 2 s TTL is shorter than an event-loop stall at start-up, and the
    // replica then rightly stops and takes its partitions again.)
    for (const leases of [health.body.distributed.leases, health.body.distributed.correlationLeases]) {
      expect(leases).toMatchObject({ lostToOther: 0, startFailures: 0, renewalsRecovered: 0 });
      expect(leases.acquired).toBeGreaterThanOrEqual(PARTITIONS);
      expect(leases.expiredLocally).toBeGreaterThanOrEqual(0);
    }
    const metrics = await ctl.get("/metrics");
    expect(String(metrics.body)).toMatch(/vigil_jetstream_consumer_lag_messages\{partition="0"\} \d+/);
  });

  it("resumes an agent from the stream when storage has not caught up (no false gap)", async () => {
    // Storage paused: batches are acked after JetStream stores them, the database lags behind.
    const storage = ctl.distributed!.storage!;
    await storage.leases.stop();
    const a = await connected("agent-js-2");
    a.events(1, 20);
    await waitFor("ack 20", () => a.lastAck() === 20);
    a.close();
    expect((await db.agent("agent-js-2"))?.ackedSeq ?? 0).toBe(0);
    const b = await connected("agent-js-2");
    expect(welcomeAck(b)).toBe(20);
    b.close();
  });
});
