/**
 * Detection pipeline throughput inside the controller: stored batches → IOC matching → per-agent
 * Sigma engines (built-in pack) → alerting (dedup, suppressions, scoring, cases, risk) with its
 * SQLite writes. Three loads:
 *   quiet      mixed benign telemetry, 1,000 IOCs loaded, no alerts
 *   storm-dup  every event alerts, all on a few entities (dedup merges: one UPDATE per alert per chunk)
 *   storm-new  every event is an IOC hit on a new address (a new alert, case update and risk row each)
 *   npm run build && npx tsx scripts/bench/pipeline.ts [events]
 * (runs the compiled controller: its TypeORM entities need decorator metadata, which tsx does not emit)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthAction, Direction, Event, FileAction, NetworkAction, ProcessAction } from "@vigil/proto";
import { createDataSource } from "../../controller/dist/database/data-source";
import { createDetection } from "../../controller/dist/app/detection";
import { createTriage } from "../../controller/dist/app/triage";
import { SqlBatch } from "../../controller/dist/database/sql-batch";
import { EventStore } from "../../controller/dist/database/repositories/event-store";
import type { AgentRegistry } from "../../controller/dist/agents/agent-registry";
import type { IngestWriter, StoredBatch } from "../../controller/dist/ingest/ingest-writer";

const N = Number(process.argv[2] ?? 100_000);
const AGENTS = 20;
const BATCH = 500;
const T0 = Date.now() - 3_600_000;

type Kind = "quiet" | "storm-dup" | "storm-new";

function event(kind: Kind, i: number): Event {
  const t = T0 + i * 10;
  if (kind === "storm-dup") {
    return Event.fromPartial({
      seq: i + 1,
      eventTimeMs: t,
      body: { $case: "process", process: { action: ProcessAction.PROCESS_ACTION_START, pid: i, ppid: 1, exe: `/tmp/payload${i % 5}`, commandLine: "/tmp/payload --x", user: "www", uid: 33 } },
    });
  }
  if (kind === "storm-new") {
    const ip = `100.${64 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`;
    return Event.fromPartial({
      seq: i + 1,
      eventTimeMs: t,
      body: {
        $case: "network",
        network: {
          action: NetworkAction.NETWORK_ACTION_OPEN,
          direction: Direction.DIRECTION_OUTBOUND,
          protocol: "tcp",
          localAddress: "10.0.0.5",
          localPort: 50000,
          remoteAddress: ip,
          remotePort: 443,
          pid: 7,
          exe: "/usr/bin/curl",
          user: "www",
        },
      },
    });
  }
  const k = i % 20;
  if (k < 12) {
    const bins = ["/usr/bin/ls", "/usr/bin/grep", "/usr/bin/python3", "/usr/bin/git", "/usr/bin/node", "/bin/bash"];
    const exe = bins[i % bins.length]!;
    return Event.fromPartial({
      seq: i + 1,
      eventTimeMs: t,
      body: {
        $case: "process",
        process: {
          action: ProcessAction.PROCESS_ACTION_START,
          pid: 1000 + i,
          ppid: 999,
          exe,
          commandLine: `${exe} --flag ${i % 97}`,
          parentExe: "/bin/bash",
          user: "app",
          uid: 1000,
          sha256: (i % 16).toString(16).repeat(64),
        },
      },
    });
  }
  if (k < 16) return Event.fromPartial({ seq: i + 1, eventTimeMs: t, body: { $case: "file", file: { action: FileAction.FILE_ACTION_MODIFY, path: `/var/lib/app/cache/${i % 97}.tmp`, uid: 1000 } } });
  if (k < 19)
    return Event.fromPartial({
      seq: i + 1,
      eventTimeMs: t,
      body: {
        $case: "network",
        network: {
          action: NetworkAction.NETWORK_ACTION_OPEN,
          direction: Direction.DIRECTION_OUTBOUND,
          protocol: "tcp",
          localAddress: "10.0.0.5",
          localPort: 50000 + (i % 1000),
          remoteAddress: `10.1.${i % 7}.${i % 250}`,
          remotePort: 443,
          pid: 7,
          exe: "/usr/bin/node",
          user: "app",
        },
      },
    });
  return Event.fromPartial({
    seq: i + 1,
    eventTimeMs: t,
    body: { $case: "auth", auth: { action: AuthAction.AUTH_ACTION_LOGIN_SUCCESS, user: `u${i % 50}`, sourceIp: `10.2.0.${i % 200}`, service: "sshd", method: "publickey" } },
  });
}

async function run(kind: Kind): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-bench-pipeline-"));
  const ds = createDataSource({ url: `sqlite:${join(dir, "bench.db")}`, sqliteSynchronous: "NORMAL" });
  await ds.initialize();
  await ds.runMigrations();
  const registry = { get: async (id: string) => ({ hostname: `host-${id}`, tags: ["server"] }), onConnectionChange: () => undefined } as unknown as AgentRegistry;
  const writer = { onStored: () => undefined, addGate: () => undefined } as unknown as IngestWriter;
  const batch = new SqlBatch(ds);
  const triage = await createTriage({ ds, batch, events: new EventStore(ds) });
  const det = await createDetection({ ds, writer, registry, sink: triage.alerts, batch, options: { maxQueuedEvents: 1e9 } });
  const iocCsv = ["type,value,confidence", ...Array.from({ length: 1000 }, (_, i) => `ip,198.18.${i >> 8}.${i & 255},70`), ...(kind === "storm-new" ? ["cidr,100.64.0.0/10,80"] : [])].join("\n");
  await det.iocs.importCsv(iocCsv, "bench");

  // Build batches first, so only the pipeline is timed.
  const batches: StoredBatch[] = [];
  for (let start = 0; start < N; start += BATCH) {
    const events = Array.from({ length: Math.min(BATCH, N - start) }, (_, j) => event(kind, start + j));
    batches.push({ agentId: `agent-${(start / BATCH) % AGENTS}`, events, rows: [], fresh: events.map(() => true) });
  }
  const t = process.hrtime.bigint();
  for (const b of batches) det.pipeline.enqueue(b);
  await det.pipeline.idle();
  await det.stop();
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  const alerts = Number(((await ds.query("SELECT COUNT(*) AS n FROM alerts")) as { n: number }[])[0]!.n);
  const st = triage.alerts.stats;
  console.log(
    `${kind.padEnd(9)} ${N} events in ${s.toFixed(2)} s = ${Math.round(N / s).toLocaleString("en-US")} events/s; ` +
      `matches ${det.pipeline.stats.matches}, alerts created ${st.created}, merged ${st.merged}, rows ${alerts}, ` +
      `heap ${Math.round(process.memoryUsage().heapUsed / 1048576)} MiB`,
  );
  await ds.destroy();
  rmSync(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const only = process.argv[3] as Kind | undefined;
  for (const k of ["quiet", "storm-dup", "storm-new"] as Kind[]) if (!only || only === k) await run(k);
}

void main();
