import { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrations } from "../../src/database/migrations";
import { PartitionedEvents1733600000000 } from "../../src/database/migrations/1733600000000-PartitionedEvents";
import { EventCopyStore } from "../../src/database/repositories/event-copy-store";
import { DAY_MS, DEFAULT_PARTITION, EventPartitions, dayPartitionName, dayStart } from "../../src/database/repositories/event-partitions";
import { toEventRow, type EventRow } from "../../src/database/repositories/event-row";
import { EventStore, type AgentCursor } from "../../src/database/repositories/event-store";
import { sanitizeBatch } from "../../src/ingest/sanitize";
import { RetentionJob } from "../../src/retention/retention";
import { createPgSchema, type PgSchema } from "../support/pg-schema";
import { waitFor } from "../support/wait";

/**
 * PostgreSQL's events table partitioned by day of event_time (#12), on the real database
 * (127.0.0.1:5432, db `test`), each block in a schema of its own built by the real migrations.
 * Idempotency must hold although the unique index now includes event_time: a replay stored
 * at another event time (a host clock too far off is stored at the receive time) is caught.
 */

const NOW = Date.now();
const TODAY = dayStart(NOW);
const YESTERDAY = TODAY - DAY_MS;
/** The window the controller uses with its default 24 h clock-skew tolerance. */
const WINDOW = { backMs: DAY_MS, aheadMs: 3 * DAY_MS };

function row(agentId: string, seq: number, eventTime: number): EventRow {
  return { agentId, seq, type: "agent", action: "test", eventTime, receivedAt: eventTime, summary: `n=${seq}`, data: JSON.stringify({ kind: "test", attributes: { n: String(seq) } }) };
}

function cursor(agentId: string, seq: number): AgentCursor {
  return { agentId, ackedSeq: seq, lastSeq: seq, gaps: [], missing: 0 };
}

async function open(schema: PgSchema, upTo = migrations.length): Promise<DataSource> {
  const ds = new DataSource(schema.options({ migrations: migrations.slice(0, upTo) }));
  await ds.initialize();
  await ds.runMigrations();
  return ds;
}

async function addAgent(ds: DataSource, id: string): Promise<void> {
  await ds.query(`INSERT INTO agents (id, ip_addresses, tags, first_seen, last_seen, status, gaps) VALUES ($1, '[]', '[]', 0, 0, '{}', '[]')`, [id]);
}

/** Where each stored copy of the agent's seq is: the partition's name per row. */
async function copies(ds: DataSource, agentId: string, seq: number): Promise<string[]> {
  const rows = (await ds.query(`SELECT tableoid::regclass::text AS part FROM events WHERE agent_id = $1 AND seq = $2`, [agentId, seq])) as Array<{ part: string }>;
  return rows.map((r) => r.part.replace(/^.*\./, ""));
}

describe("partitioned events on PostgreSQL: ingest stays idempotent on (agent, seq)", () => {
  let schema: PgSchema;
  let ds: DataSource;
  let store: EventStore;
  let copyStore: EventCopyStore;
  let partitions: EventPartitions;

  beforeAll(async () => {
    schema = await createPgSchema("vigil_part");
    ds = await open(schema);
    store = new EventStore(ds);
    copyStore = new EventCopyStore(ds, 2);
    partitions = new EventPartitions(ds, WINDOW);
    expect(await partitions.ensure(NOW)).toBe(5);
  });
  afterAll(async () => {
    await copyStore?.close();
    await ds?.destroy();
    await schema?.drop();
  });

  it("creates yesterday, today and three days ahead, then nothing more on a second run", async () => {
    const names = (await partitions.list()).map((p) => p.name);
    expect(names).toEqual([YESTERDAY, TODAY, TODAY + DAY_MS, TODAY + 2 * DAY_MS, TODAY + 3 * DAY_MS].map(dayPartitionName));
    expect(await partitions.ensure(NOW)).toBe(0);
  });

  it("COPY path: a batch replayed after midnight at another event time is stored once, in its first day", async () => {
    await addAgent(ds, "copy-a");
    const offset = { stream: "EV", part: 0 };
    const base = await copyStore.readOffset(offset.stream, offset.part);
    // First delivery: stamped in the last second of yesterday (a skewed host stored at its receive time).
    const first = [1, 2, 3].map((s) => row("copy-a", s, TODAY - 1000 + s));
    const fresh1 = await copyStore.write(first, [cursor("copy-a", 3)], { ...offset, expected: base, next: base + 1 });
    expect(fresh1.size).toBe(3);
    // The ack was lost; the agent replays through another replica after midnight: same seqs, today's times.
    const replay = [1, 2, 3, 4].map((s) => row("copy-a", s, TODAY + 5000 + s));
    const fresh2 = await copyStore.write(replay, [cursor("copy-a", 4)], { ...offset, expected: base + 1, next: base + 2 });
    expect([...fresh2]).toEqual(["copy-a\u00004"]);
    for (const s of [1, 2, 3]) expect(await copies(ds, "copy-a", s)).toEqual([dayPartitionName(YESTERDAY)]);
    expect(await copies(ds, "copy-a", 4)).toEqual([dayPartitionName(TODAY)]);
  });

  it("COPY path: a seq twice in one write (a batch and its replay gathered together) is stored once", async () => {
    const offset = { stream: "EV", part: 1 };
    const base = await copyStore.readOffset(offset.stream, offset.part);
    const rows = [row("copy-b", 1, YESTERDAY + 10), row("copy-b", 2, YESTERDAY + 11), row("copy-b", 1, TODAY + 10), row("copy-b", 2, TODAY + 11)];
    // No agents row either: without a stored mark every row is looked up.
    const fresh = await copyStore.write(rows, [cursor("copy-b", 2)], { ...offset, expected: base, next: base + 1 });
    expect(fresh.size).toBe(2);
    expect(await copies(ds, "copy-b", 1)).toEqual([dayPartitionName(YESTERDAY)]);
    expect(await copies(ds, "copy-b", 2)).toEqual([dayPartitionName(YESTERDAY)]);
  });

  it("COPY path: two writers of one agent at once (two partitions, each seq at another event time) store each seq once", async () => {
    // The unique index cannot catch this (event_time differs); only the lock on the agent's row can.
    await addAgent(ds, "copy-race");
    const a = { stream: "EV", part: 10 };
    const b = { stream: "EV", part: 11 };
    let offA = await copyStore.readOffset(a.stream, a.part);
    let offB = await copyStore.readOffset(b.stream, b.part);
    const freshSeqs: string[] = [];
    for (let round = 0; round < 20; round++) {
      const seqs = [1, 2, 3, 4, 5].map((i) => round * 5 + i);
      const [fa, fb] = await Promise.all([
        copyStore.write(
          seqs.map((s) => row("copy-race", s, YESTERDAY + s)),
          [cursor("copy-race", seqs[4]!)],
          { ...a, expected: offA, next: offA + 1 },
        ),
        copyStore.write(
          seqs.map((s) => row("copy-race", s, TODAY + s)),
          [cursor("copy-race", seqs[4]!)],
          { ...b, expected: offB, next: offB + 1 },
        ),
      ]);
      offA++;
      offB++;
      freshSeqs.push(...fa, ...fb);
    }
    const [t] = (await ds.query(`SELECT COUNT(*)::int AS n, COUNT(DISTINCT seq)::int AS d FROM events WHERE agent_id = 'copy-race'`)) as Array<{ n: number; d: number }>;
    expect(t).toEqual({ n: 100, d: 100 });
    // Each seq reported fresh by exactly one of the two writers: detection sees it once.
    expect(freshSeqs.length).toBe(100);
    expect(new Set(freshSeqs).size).toBe(100);
  });

  it("COPY path: a row stored behind the agent's mark (written outside the write path) sends the write through the stage: the rest stored once, only they reported fresh", async () => {
    await addAgent(ds, "copy-stray");
    // Breaks the invariant the direct COPY relies on (every stored row at or below last_seq).
    await ds.query(`INSERT INTO events (agent_id, seq, type, action, event_time, received_at, summary, data) VALUES ('copy-stray', 5, 'process', 'exec', $1, $1, '', '{}')`, [TODAY + 5]);
    const offset = { stream: "EV", part: 2 };
    const base = await copyStore.readOffset(offset.stream, offset.part);
    const staged = copyStore.timing.stagedWrites;
    const fresh = await copyStore.write(
      [4, 5, 6].map((s) => row("copy-stray", s, TODAY + s)),
      [cursor("copy-stray", 6)],
      { ...offset, expected: base, next: base + 1 },
    );
    expect([...fresh].sort()).toEqual(["copy-stray\u00004", "copy-stray\u00006"]);
    expect(copyStore.timing.stagedWrites).toBe(staged + 1);
    const [t] = (await ds.query(`SELECT COUNT(*)::int AS n, COUNT(DISTINCT seq)::int AS d FROM events WHERE agent_id = 'copy-stray'`)) as Array<{ n: number; d: number }>;
    expect(t).toEqual({ n: 3, d: 3 });
    // The offset and the cursor moved with it: the write committed whole.
    expect(await copyStore.readOffset(offset.stream, offset.part)).toBe(base + 1);
  });

  it("single-process path: a replay across the day boundary is stored once and reported not fresh, with or without the ack hint", async () => {
    await addAgent(ds, "sp-a");
    const first = [1, 2].map((s) => row("sp-a", s, TODAY - 10 + s));
    expect(await store.insertBatch(first, [cursor("sp-a", 2)])).toEqual([true, true]);
    const replay = [1, 2, 3].map((s) => row("sp-a", s, TODAY + 10 + s));
    expect(await store.insertBatch(replay, [cursor("sp-a", 3)])).toEqual([false, false, true]);
    // The hint says "above the ack" for all of them (a stale ack after a failover): the lookup still finds 1..3.
    const again = [1, 2, 3].map((s) => row("sp-a", s, TODAY + DAY_MS + s));
    expect(await store.insertBatch(again, [cursor("sp-a", 3)], [true, true, true])).toEqual([false, false, false]);
    expect(Number((await ds.query(`SELECT COUNT(*) AS n FROM events WHERE agent_id = 'sp-a'`))[0].n)).toBe(3);
  });

  it("a host clock of 1970 is stored at the receive time, and its replay a day later is not stored again", async () => {
    await addAgent(ds, "skewed");
    const batch = () => ({
      firstSeq: 1,
      events: [1, 2].map((seq) => ({ seq, eventTimeMs: 5_000, body: { $case: "agent" as const, agent: { kind: "boot", message: "", attributes: {} } } })),
    });
    const rowsAt = (receivedAt: number) => {
      const sane = sanitizeBatch(batch() as Parameters<typeof sanitizeBatch>[0], receivedAt);
      return sane.events.map((e, i) => toEventRow("skewed", e, receivedAt, sane.reportedTimes[i]));
    };
    const first = rowsAt(TODAY - 2_000);
    expect(first.map((r) => r.eventTime)).toEqual([TODAY - 2_000, TODAY - 2_000]);
    expect(await store.insertBatch(first, [cursor("skewed", 2)])).toEqual([true, true]);
    expect(await store.insertBatch(rowsAt(TODAY + 2_000), [cursor("skewed", 2)])).toEqual([false, false]);
    expect(await copies(ds, "skewed", 1)).toEqual([dayPartitionName(YESTERDAY)]);
  });

  it("hostile event times (1970, 2999) land in DEFAULT, are counted once, and create no partition", async () => {
    await addAgent(ds, "hostile");
    const before = (await partitions.list()).length;
    const times = [Date.UTC(1970, 0, 1, 0, 0, 7), Date.UTC(2999, 0, 1)];
    const rows = times.map((t, i) => row("hostile", i + 1, t));
    expect(await store.insertBatch(rows, [cursor("hostile", 2)])).toEqual([true, true]);
    expect(await store.insertBatch(rows, [cursor("hostile", 2)])).toEqual([false, false]);
    const offset = { stream: "EV", part: 2 };
    const base = await copyStore.readOffset(offset.stream, offset.part);
    expect((await copyStore.write(rows, [cursor("hostile", 2)], { ...offset, expected: base, next: base + 1 })).size).toBe(0);
    expect(await copies(ds, "hostile", 1)).toEqual([DEFAULT_PARTITION]);
    expect(await copies(ds, "hostile", 2)).toEqual([DEFAULT_PARTITION]);
    expect(await partitions.ensure(NOW)).toBe(0);
    expect((await partitions.list()).length).toBe(before);
  });

  it("a day created after its rows went to DEFAULT takes them out of DEFAULT", async () => {
    await addAgent(ds, "early");
    const day = TODAY + 10 * DAY_MS;
    expect(await store.insertBatch([row("early", 1, day + 60_000)], [cursor("early", 1)])).toEqual([true]);
    expect(await copies(ds, "early", 1)).toEqual([DEFAULT_PARTITION]);
    // Maintenance ten days on: the day is created although DEFAULT held one of its rows.
    expect(await partitions.ensure(day)).toBeGreaterThan(0);
    expect(await copies(ds, "early", 1)).toEqual([dayPartitionName(day)]);
    // And the row is still found as stored: a replay at another time is not stored again.
    expect(await store.insertBatch([row("early", 1, NOW)], [cursor("early", 1)])).toEqual([false]);
  });
});

describe("retention on partitioned events", () => {
  let schema: PgSchema;
  let ds: DataSource;

  beforeAll(async () => {
    schema = await createPgSchema("vigil_part");
    ds = await open(schema);
  });
  afterAll(async () => {
    await ds?.destroy();
    await schema?.drop();
  });

  it("drops day partitions wholly older than the cut-off, keeps newer ones, deletes expired DEFAULT rows one by one", async () => {
    const store = new EventStore(ds);
    const partitions = new EventPartitions(ds, WINDOW);
    const old = TODAY - 40 * DAY_MS;
    // Days around 40 days ago exist (as if made back then), and today's.
    await partitions.ensure(old);
    await partitions.ensure(NOW);
    await store.insertBatch([row("r", 1, old + 1), row("r", 2, old + 2), row("r", 3, old + DAY_MS + 3), row("r", 4, Date.UTC(1970, 0, 2)), row("r", 5, Date.UTC(2999, 0, 1)), row("r", 6, NOW)], []);
    const job = new RetentionJob(store, 30 * DAY_MS, { intervalMs: 60_000, batchSize: 1, maxBatchesPerRun: 10 }, () => NOW, { partitions });
    expect(await job.runOnce()).toBe(1);
    expect(job.stats).toMatchObject({ partitionsDropped: 5, partitionRowsDropped: 3, rowsDeleted: 1, failures: 0 });
    const names = (await partitions.list()).map((p) => p.name);
    expect(names).not.toContain(dayPartitionName(old));
    expect(names).toContain(dayPartitionName(TODAY));
    const left = (await ds.query(`SELECT seq FROM events WHERE agent_id = 'r' ORDER BY seq`)) as Array<{ seq: string }>;
    // The far-future row stays (an operator trusting host clocks keeps it until then); today's stays.
    expect(left.map((r) => Number(r.seq))).toEqual([5, 6]);
    // A second round finds nothing more to drop.
    expect(await job.runOnce()).toBe(0);
    expect(job.stats.partitionsDropped).toBe(5);
  });
});

describe("dropping a partition while a long transaction holds the events table", () => {
  let schema: PgSchema;
  let ds: DataSource;

  beforeAll(async () => {
    schema = await createPgSchema("vigil_part");
    ds = await open(schema);
  });
  afterAll(async () => {
    await ds?.destroy();
    await schema?.drop();
  });

  it("inserts are not queued behind the waiting DROP for more than its short lock wait, and the drop is retried next round", async () => {
    const store = new EventStore(ds);
    const partitions = new EventPartitions(ds, WINDOW);
    const old = TODAY - 40 * DAY_MS;
    await partitions.ensure(old);
    await partitions.ensure(NOW);
    // A transaction left open on `events` (a slow COPY, an analyst's long query): DROP needs ACCESS EXCLUSIVE and must wait.
    const blocker = ds.createQueryRunner();
    await blocker.connect();
    await blocker.startTransaction();
    await blocker.query(`INSERT INTO events (agent_id, seq, type, action, event_time, received_at, summary, data) VALUES ('blk', 1, 'agent', 'test', $1, $1, 'b', '{}')`, [NOW]);
    try {
      const drop = partitions.dropOlderThan(TODAY - 30 * DAY_MS);
      // Once the DROP is queued on its lock, every new insert would queue behind it.
      await waitFor(
        "the DROP to wait for its lock",
        async () => ((await ds.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'DROP TABLE%'`)) as unknown[]).length > 0,
        5_000,
        20,
      );
      const queuedAt = Date.now();
      await store.insertBatch([row("ing", 1, NOW)], []);
      const insertWaitedMs = Date.now() - queuedAt;
      // The lock wait is 250 ms per attempt; with the earlier single 5 s wait this insert waited ~5 s.
      expect(insertWaitedMs).toBeLessThan(2_000);
      // The blocker outlasts every attempt of this round: the drop is counted failed, nothing dropped.
      expect(await drop).toMatchObject({ partitions: 0, failed: 1 });
    } finally {
      await blocker.commitTransaction();
      await blocker.release();
    }
    expect((await partitions.dropOlderThan(TODAY - 30 * DAY_MS)).failed).toBe(0);
    expect((await partitions.list()).map((p) => p.name)).not.toContain(dayPartitionName(old));
  });
});

describe("migrating an existing PostgreSQL events table", () => {
  let schema: PgSchema;
  afterAll(async () => {
    await schema?.drop();
  });

  it("moves every row into day partitions (or DEFAULT), keeps ids, indexes and pagination", async () => {
    schema = await createPgSchema("vigil_part");
    const before = await open(schema, migrations.indexOf(PartitionedEvents1733600000000));
    const times = [YESTERDAY + 1, YESTERDAY + 2, TODAY + 3, TODAY + 3, 7];
    for (const [i, t] of times.entries()) {
      await before.query(`INSERT INTO events (agent_id, seq, type, action, event_time, received_at, summary, data) VALUES ('m', $1, 'agent', 'test', $2, $2, 's', '{}')`, [i + 1, t]);
    }
    const oldIds = ((await before.query(`SELECT id FROM events ORDER BY seq`)) as Array<{ id: string }>).map((r) => Number(r.id));
    await before.destroy();

    const ds = await open(schema);
    try {
      expect((await ds.query(`SELECT relkind FROM pg_class WHERE oid = 'events'::regclass`))[0].relkind).toBe("p");
      const rows = (await ds.query(`SELECT id, seq, tableoid::regclass::text AS part FROM events ORDER BY seq`)) as Array<{ id: string; seq: string; part: string }>;
      expect(rows.map((r) => Number(r.id))).toEqual(oldIds);
      expect(rows.map((r) => r.part.replace(/^.*\./, ""))).toEqual([YESTERDAY, YESTERDAY, TODAY, TODAY].map(dayPartitionName).concat(DEFAULT_PARTITION));
      const indexes = ((await ds.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'events' AND schemaname = $1`, [schema.name])) as Array<{ indexname: string }>).map((r) => r.indexname);
      expect(indexes.sort()).toEqual(["events_agent_seq", "events_agent_time", "events_pkey", "events_time", "events_type_time"]);
      // New rows continue the same id sequence.
      const store = new EventStore(ds);
      await store.insertBatch([row("m", 6, TODAY + 3)], [cursor("m", 6)]);
      const all = await store.query({ agentId: "m", limit: 10 });
      expect(all[0].id).toBeGreaterThan(Math.max(...oldIds));
      // Pagination by (event_time, id): pages of two, the tie at TODAY + 3 split across pages in id order.
      const page1 = await store.query({ agentId: "m", limit: 2 });
      const page2 = await store.query({ agentId: "m", limit: 2, cursor: { eventTime: page1[1].eventTime, id: page1[1].id } });
      const page3 = await store.query({ agentId: "m", limit: 2, cursor: { eventTime: page2[1].eventTime, id: page2[1].id } });
      expect([...page1, ...page2, ...page3].map((e) => e.seq)).toEqual([6, 4, 3, 2, 1, 5]);
      // The moved rows still dedup a replay.
      expect(await store.insertBatch([row("m", 1, TODAY + 99)], [cursor("m", 6)])).toEqual([false]);
      // Reverting gives a plain table back with every row, the id sequence intact.
      await ds.undoLastMigration({ transaction: "each" });
      expect((await ds.query(`SELECT relkind FROM pg_class WHERE oid = 'events'::regclass`))[0].relkind).toBe("r");
      expect(((await ds.query(`SELECT seq FROM events ORDER BY seq`)) as Array<{ seq: string }>).map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5, 6]);
      await ds.query(`INSERT INTO events (agent_id, seq, type, action, event_time, received_at, summary, data) VALUES ('m', 7, 'agent', 'test', 1, 1, 's', '{}')`);
      expect(Number((await ds.query(`SELECT id FROM events WHERE seq = 7`))[0].id)).toBeGreaterThan(all[0].id);
    } finally {
      await ds.destroy();
    }
  });
});
