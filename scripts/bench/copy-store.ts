/**
 * The distributed storage write alone (issue #12): EventCopyStore.write, as the storage consumer
 * calls it, against the real PostgreSQL (127.0.0.1:5432, db `test`, a schema of its own built by
 * the migrations, day partitions made). No replicas, NATS or fleet share the cores, so what
 * PostgreSQL spends per stored row is measured apart from the host's noise in bench:scale.
 *
 *   npm run bench:copy-store -- [--rows 300000] [--write 2000] [--agents 200] [--replay 0.1]
 *
 * Each write carries `--write` rows of `--agents` agents (the shape of a partition's gathered
 * batches), with their cursors and the partition's offset. `--replay`: the share of writes that
 * repeat the previous write's rows (a lost ack, a failover): those are looked up and skipped.
 * Prints rows/s and the CPU time PostgreSQL's backends and this process spent per stored row.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { Client } from "pg";
import { DataSource, type DataSourceOptions } from "typeorm";
import { Event } from "@vigil/proto";
// The built controller (as bench:scale runs it): its entities' decorators need tsc's metadata, which tsx does not emit.
import { dataSourceOptions } from "../../controller/dist/database/data-source";
import { EventCopyStore } from "../../controller/dist/database/repositories/event-copy-store";
import { EventPartitions, DAY_MS } from "../../controller/dist/database/repositories/event-partitions";
import { toEventRow, type EventRow } from "../../controller/dist/database/repositories/event-row";
import { readCpuTotals, type CpuTotals } from "./lib/scale/cpu-share";
import { machine, writeBenchSection } from "./lib/report";

const { values } = parseArgs({
  options: {
    rows: { type: "string", default: "300000" },
    write: { type: "string", default: "2000" },
    agents: { type: "string", default: "200" },
    replay: { type: "string", default: "0.1" },
  },
});
const ROWS = Number(values.rows);
const PER_WRITE = Number(values.write);
const AGENTS = Number(values.agents);
const REPLAY = Number(values.replay);

/** A process start as the scale fleet sends them: the realistic width of a stored row. */
function processEvent(seq: number, host: number, at: number): Event {
  const exe = ["/usr/bin/curl", "/usr/bin/python3", "/usr/sbin/sshd", "/usr/bin/bash"][seq % 4]!;
  return Event.fromPartial({
    seq,
    eventTimeMs: at,
    body: {
      $case: "process",
      process: { action: 1, pid: 1000 + (seq % 30000), ppid: 1, exe, commandLine: `${exe} --job ${seq % 977} --host h${host}`, user: "root", cwd: "/srv/app", parentExe: "/usr/bin/bash" },
    },
  });
}

const PG_URL = process.env.VIGIL_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: PG_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

function postgresSeconds(t: CpuTotals): number {
  let s = 0;
  for (const p of t.byPid.values()) if (p.label === "postgres") s += p.seconds;
  return s;
}

async function main(): Promise<void> {
  // A schema of its own in the test database, dropped at the end.
  const schema = `vigil_bench_copy_${randomBytes(3).toString("hex")}`;
  await admin(`CREATE SCHEMA ${schema}`);
  const base = dataSourceOptions({ url: PG_URL }) as DataSourceOptions & { extra?: Record<string, unknown> };
  const ds = new DataSource({ ...base, schema, extra: { ...base.extra, options: `-c search_path=${schema}` } } as DataSourceOptions);
  await ds.initialize();
  const store = new EventCopyStore(ds, 1);
  try {
    await ds.runMigrations();
    await new EventPartitions(ds, { backMs: DAY_MS, aheadMs: 3 * DAY_MS }).ensure(Date.now());
    const ids = Array.from({ length: AGENTS }, (_, i) => `bench-agent-${String(i).padStart(5, "0")}`);
    for (const id of ids) await ds.query(`INSERT INTO agents (id, ip_addresses, tags, first_seen, last_seen, status, gaps) VALUES ($1, '[]', '[]', 0, 0, '{}', '[]')`, [id]);
    const next = new Map(ids.map((id) => [id, 1]));
    const perAgent = Math.max(1, Math.floor(PER_WRITE / AGENTS));
    /** The next write's rows: `perAgent` new seqs for each agent. */
    const fresh = (): EventRow[] => {
      const at = Date.now();
      return ids.flatMap((id, h) => {
        const first = next.get(id)!;
        next.set(id, first + perAgent);
        return Array.from({ length: perAgent }, (_, k) => toEventRow(id, processEvent(first + k, h, at), at));
      });
    };
    const cursors = () => ids.map((id) => ({ agentId: id, ackedSeq: next.get(id)! - 1, lastSeq: next.get(id)! - 1, gaps: [], missing: 0 }));
    const offset = await store.readOffset("BENCH", 0);
    let at = offset;
    // Warm-up: the stage path's temp table, the plans, the pool's connection.
    await store.write(fresh(), cursors(), { stream: "BENCH", part: 0, expected: at, next: ++at });

    const cpu0 = readCpuTotals(new Map());
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    let stored = 0;
    let replayed = 0;
    let last: EventRow[] = [];
    while (stored < ROWS) {
      const replay = last.length > 0 && Math.random() < REPLAY;
      const rows = replay ? last : fresh();
      const got = await store.write(rows, cursors(), { stream: "BENCH", part: 0, expected: at, next: at + 1 });
      at++;
      if (replay) {
        if (got.size !== 0) throw new Error(`a replayed write stored ${got.size} rows again`);
        replayed += rows.length;
      } else {
        if (got.size !== rows.length) throw new Error(`a fresh write stored ${got.size} of ${rows.length} rows`);
        stored += rows.length;
      }
      last = rows;
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = readCpuTotals(new Map());
    const own = process.cpuUsage(own0);
    const [{ n }] = (await ds.query(`SELECT COUNT(*)::int AS n FROM events`)) as Array<{ n: number }>;
    if (n !== stored + PER_WRITE) throw new Error(`events holds ${n} rows, ${stored + PER_WRITE} were written`);
    const pgUs = ((postgresSeconds(cpu1) - postgresSeconds(cpu0)) * 1e6) / stored;
    const nodeUs = ((own.user + own.system) / stored) * 1;
    const rate = stored / seconds;
    const t = store.timing;
    const line = `copy-store: ${rate.toFixed(0)} rows/s stored, postgres ${pgUs.toFixed(1)} µs CPU per row, writer ${nodeUs.toFixed(1)} µs per row, ${replayed} replayed rows skipped, ${t.stagedWrites} writes through the stage`;
    writeBenchSection(
      "copy-store",
      `## Storage write alone (bench:copy-store, issue #12)

\`npm run bench:copy-store -- --rows ${ROWS} --write ${PER_WRITE} --agents ${AGENTS} --replay ${REPLAY}\` — ${machine()}. EventCopyStore.write on
one connection, as a storage worker writes a partition: ${PER_WRITE} rows of ${AGENTS} agents per write, with cursors and offset, into the
day-partitioned \`events\`; ${(REPLAY * 100).toFixed(0)}% of writes repeat the previous one (looked up and skipped). No replicas, NATS or fleet
on the cores. CPU per row: PostgreSQL's backends (/proc) and the writing process.

| rows stored | rows/s | PostgreSQL CPU per row | writer CPU per row | replayed rows skipped | writes through the stage |
|---|---|---|---|---|---|
| ${stored} | ${rate.toFixed(0)} | ${pgUs.toFixed(1)} µs | ${nodeUs.toFixed(1)} µs | ${replayed} | ${t.stagedWrites} |`,
    );
    process.stdout.write(`${line}\n`);
  } finally {
    await store.close();
    await ds.destroy();
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:copy-store failed: ${String(err)}\n`);
  process.exit(1);
});
