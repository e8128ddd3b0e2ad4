import type { MigrationInterface, QueryRunner } from "typeorm";
import { dialectOf } from "../dialect";

const DAY = 86_400_000;
/** Day partitions made for existing rows at most this far back; older rows go to DEFAULT (retention deletes them there). */
const MAX_BACK_DAYS = 400;
const INDEXES = ["events_agent_seq", "events_time", "events_agent_time", "events_type_time"];

/** The events table's columns (as Init made them), with `id` as given. */
function columns(id: string): string {
  return `${id}, agent_id VARCHAR(128) NOT NULL, seq BIGINT NOT NULL, type VARCHAR(16) NOT NULL, action VARCHAR(32) NOT NULL,
    event_time BIGINT NOT NULL, received_at BIGINT NOT NULL, summary TEXT NOT NULL, data JSONB NOT NULL`;
}

/** The unique (agent, seq) index (with `uniqueColumns`) and the ones the queries page by (event_time, id) with. */
async function createIndexes(q: QueryRunner, uniqueColumns: string): Promise<void> {
  await q.query(`CREATE UNIQUE INDEX events_agent_seq ON events (${uniqueColumns})`);
  await q.query(`CREATE INDEX events_time ON events (event_time, id)`);
  await q.query(`CREATE INDEX events_agent_time ON events (agent_id, event_time, id)`);
  await q.query(`CREATE INDEX events_type_time ON events (type, event_time, id)`);
}

/**
 * Renames the events table, its primary key and indexes out of the way (to `name`, `<index>_...`)
 * so the new table can take their names; returns the id sequence, detached from the old table so
 * it outlives it: new rows keep the ids after the moved ones.
 */
async function setAside(q: QueryRunner, name: string): Promise<string> {
  const [{ seq }] = (await q.query(`SELECT pg_get_serial_sequence('events', 'id') AS seq`)) as Array<{ seq: string }>;
  await q.query(`ALTER SEQUENCE ${seq} OWNED BY NONE`);
  await q.query(`ALTER TABLE events RENAME TO ${name}`);
  await q.query(`ALTER TABLE ${name} RENAME CONSTRAINT events_pkey TO ${name}_pkey`);
  for (const ix of INDEXES) await q.query(`ALTER INDEX ${ix} RENAME TO ${ix}_${name.slice("events_".length)}`);
  return seq;
}

function dayName(lo: number): string {
  return `events_p${new Date(lo).toISOString().slice(0, 10).replace(/-/g, "")}`;
}

/**
 * PostgreSQL (#12): the events table partitioned by day of event_time, so retention drops a
 * day's partition instead of deleting its rows one by one. Rows whose time has no partition
 * (hostile clocks, days not created yet) land in DEFAULT, so an insert never fails.
 *
 * PostgreSQL keeps a unique index on a partitioned table only if it holds the partition key:
 * UNIQUE (agent_id, seq) becomes (agent_id, seq, event_time), and the writers look a possible
 * replay up across partitions before inserting (repositories/event-dedup.ts). The primary key
 * becomes (id, event_time); ids keep coming from the same sequence, so pagination by
 * (event_time, id) continues where it was.
 *
 * Existing rows are moved in: a partition for each day that has rows (within MAX_BACK_DAYS),
 * the rest in DEFAULT. The days ahead are created by EventPartitions at start. SQLite: nothing.
 */
export class PartitionedEvents1733600000000 implements MigrationInterface {
  name = "PartitionedEvents1733600000000";

  async up(q: QueryRunner): Promise<void> {
    if (dialectOf(q.connection) !== "postgres") return;
    const seq = await setAside(q, "events_unpartitioned");
    await q.query(`CREATE TABLE events (${columns(`id BIGINT NOT NULL DEFAULT nextval('${seq}')`)}) PARTITION BY RANGE (event_time)`);
    await q.query(`ALTER SEQUENCE ${seq} OWNED BY events.id`);
    await q.query(`CREATE TABLE events_default PARTITION OF events DEFAULT`);
    const today = Math.floor(Date.now() / DAY) * DAY;
    const days = (await q.query(`SELECT DISTINCT (event_time / ${DAY}) * ${DAY} AS lo FROM events_unpartitioned WHERE event_time >= $1 AND event_time < $2`, [
      today - MAX_BACK_DAYS * DAY,
      today + 2 * DAY,
    ])) as Array<{ lo: string }>;
    for (const lo of days.map((d) => Number(d.lo))) {
      await q.query(`CREATE TABLE ${dayName(lo)} PARTITION OF events FOR VALUES FROM (${lo}) TO (${lo + DAY})`);
    }
    await q.query(`INSERT INTO events (id, agent_id, seq, type, action, event_time, received_at, summary, data)
      SELECT id, agent_id, seq, type, action, event_time, received_at, summary, data FROM events_unpartitioned`);
    await q.query(`DROP TABLE events_unpartitioned`);
    // Built after the copy (faster than maintained row by row); created on every partition, present and future.
    await q.query(`ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id, event_time)`);
    await createIndexes(q, "agent_id, seq, event_time");
  }

  async down(q: QueryRunner): Promise<void> {
    if (dialectOf(q.connection) !== "postgres") return;
    const seq = await setAside(q, "events_partitioned");
    await q.query(`CREATE TABLE events (${columns(`id BIGINT PRIMARY KEY DEFAULT nextval('${seq}')`)})`);
    await q.query(`ALTER SEQUENCE ${seq} OWNED BY events.id`);
    // One row per (agent, seq) again: the first stored wins.
    await q.query(`INSERT INTO events SELECT DISTINCT ON (agent_id, seq) id, agent_id, seq, type, action, event_time, received_at, summary, data
      FROM events_partitioned ORDER BY agent_id, seq, id`);
    await q.query(`DROP TABLE events_partitioned`);
    await createIndexes(q, "agent_id, seq");
  }
}
