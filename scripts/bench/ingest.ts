/**
 * Ingest benchmark: N simulated agents stream M events each over real gRPC to a
 * real controller process; prints events/s stored and event-creation-to-stored
 * latency (stored = the controller's ack, which is sent after commit).
 *
 *   npm run bench:ingest -- [--agents 50] [--events 4000] [--batch 500] [--db sqlite|postgres|both]
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Client, credentials, makeGenericClientConstructor, type ClientDuplexStream } from "@grpc/grpc-js";
import { Client as PgClient } from "pg";
import { AgentMessage, AgentServiceService, Event, type ControllerMessage } from "@vigil/proto";
import { encodeEventBatchMessage } from "../../agent/src/transport/wire";
import { machine, percentile, ROOT, writeBenchSection } from "./lib/report";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "50" },
    events: { type: "string", default: "4000" },
    batch: { type: "string", default: "500" },
    db: { type: "string", default: "both" },
    inflight: { type: "string", default: "4" },
  },
});
const AGENTS = Number(values.agents);
const EVENTS = Number(values.events);
const BATCH = Number(values.batch);
const INFLIGHT = Number(values.inflight);
const PG_ADMIN = process.env.VIGIL_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

type Stream = ClientDuplexStream<Buffer, ControllerMessage>;
const Raw = makeGenericClientConstructor({ connect: { ...AgentServiceService.connect, requestSerialize: (b: Buffer) => b } }, "vigil.v1.AgentService") as unknown as new (
  a: string,
  c: ReturnType<typeof credentials.createInsecure>,
) => Client & { connect(): Stream };

function makeEvent(seq: number, i: number): Uint8Array {
  // A realistic mix: mostly process starts and connections with varied strings.
  const t = Date.now();
  const body: Event["body"] =
    i % 3 === 0
      ? {
          $case: "network",
          network: {
            action: 1,
            protocol: "tcp",
            localAddress: "10.0.0.5",
            localPort: 40000 + (i % 20000),
            remoteAddress: `93.184.${i % 255}.${seq % 255}`,
            remotePort: 443,
            state: "ESTABLISHED",
            direction: 2,
            pid: 1000 + (i % 5000),
            processName: "curl",
            exe: "/usr/bin/curl",
            user: "www-data",
            bytesSent: 0,
            bytesReceived: 0,
            remoteHostname: "",
            cgroupPath: "",
            containerId: "",
            containerRuntime: "",
            podUid: "",
            systemdUnit: "",
          },
        }
      : {
          $case: "process",
          process: {
            action: 1,
            pid: 1000 + (i % 30000),
            ppid: 1,
            exe: `/usr/bin/tool${i % 50}`,
            commandLine: `/usr/bin/tool${i % 50} --job ${seq} --input /var/data/file-${i}.csv`,
            user: "www-data",
            uid: 33,
            cwd: "/srv/app",
            startTimeMs: t,
            sha256: "9f".repeat(32),
            parentExe: "/usr/sbin/cron",
            parentCommandLine: "/usr/sbin/cron -f",
            name: `tool${i % 50}`,
            exeDeleted: false,
            exitCode: 0,
            euid: 33,
            durationMs: 0,
            cgroupId: 0,
            cgroupPath: "",
            containerId: "",
            containerRuntime: "",
            podUid: "",
            systemdUnit: "",
            source: "",
          },
        };
  return Event.encode({ seq, eventTimeMs: t, body }).finish();
}

async function startController(dbUrl: string, dataDir: string): Promise<{ child: ChildProcess; grpcPort: number }> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROF ? ["--cpu-prof", "--cpu-prof-dir=/tmp/prof"] : []),
      join(ROOT, "controller/bin/vigil-controller.js"),
      "serve",
      "--http",
      "127.0.0.1:0",
      "--grpc",
      "127.0.0.1:0",
      "--database",
      dbUrl,
      "--data-dir",
      dataDir,
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, VIGIL_INSECURE_GRPC: "1" } },
  );
  const grpcPort = await new Promise<number>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /grpc=(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (c) => reject(new Error(`controller exited with ${c}`)));
  });
  return { child, grpcPort };
}

async function runAgent(port: number, id: number, latencies: number[]): Promise<void> {
  const client = new Raw(`127.0.0.1:${port}`, credentials.createInsecure());
  const call = client.connect();
  const agentId = `bench-${id}`;
  call.write(
    Buffer.from(
      AgentMessage.encode({
        msg: { $case: "hello", hello: { agentId, hostname: agentId, os: "bench", kernel: "", agentVersion: "bench", ipAddresses: [], tags: [], bootTimeMs: 0, lastSeq: 0, arch: "" } },
      }).finish(),
    ),
  );
  const sentAt = new Map<number, number>();
  let acked = 0;
  let next = 1;
  let wake: (() => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    call.on("data", (m: ControllerMessage) => {
      if (m.msg?.$case === "welcome") wake?.();
      if (m.msg?.$case !== "ack") return;
      const now = Date.now();
      for (const [last, t] of sentAt)
        if (last <= m.msg.ack.seq) {
          latencies.push(now - t);
          sentAt.delete(last);
        }
      acked = m.msg.ack.seq;
      wake?.();
      if (acked >= EVENTS) resolve();
    });
    call.on("error", reject);
  });
  await Promise.race([new Promise<void>((r) => (wake = r)), done]);
  while (next <= EVENTS) {
    while (sentAt.size >= INFLIGHT) await new Promise<void>((r) => (wake = r));
    const n = Math.min(BATCH, EVENTS - next + 1);
    const payloads = Array.from({ length: n }, (_, k) => makeEvent(next + k, id * EVENTS + next + k));
    sentAt.set(next + n - 1, Date.now());
    const ok = call.write(encodeEventBatchMessage(next, payloads));
    next += n;
    if (!ok) await new Promise<void>((r) => call.once("drain", r));
  }
  await done;
  call.end();
  client.close();
}

async function runOne(kind: "sqlite" | "postgres"): Promise<{ kind: string; eps: number; p50: number; p99: number; stored: number; seconds: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-bench-"));
  let dbUrl = `sqlite:${join(dataDir, "vigil.db")}`;
  let dropPg: (() => Promise<void>) | undefined;
  if (kind === "postgres") {
    const name = `vigil_bench_${process.pid}`;
    const admin = new PgClient({ connectionString: PG_ADMIN });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    dbUrl = PG_ADMIN.replace(/\/[^/]*$/, `/${name}`);
    dropPg = async () => {
      const c = new PgClient({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  }
  const { child, grpcPort } = await startController(dbUrl, dataDir);
  const latencies: number[] = [];
  const t0 = Date.now();
  await Promise.all(Array.from({ length: AGENTS }, (_, i) => runAgent(grpcPort, i, latencies)));
  const seconds = (Date.now() - t0) / 1000;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  let stored: number;
  if (kind === "sqlite") {
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(dbUrl.slice(7), { readonly: true });
    stored = (db.prepare("SELECT COUNT(*) AS n FROM events").get() as { n: number }).n;
    db.close();
  } else {
    const c = new PgClient({ connectionString: dbUrl });
    await c.connect();
    stored = Number((await c.query("SELECT COUNT(*) AS n FROM events")).rows[0].n);
    await c.end();
    await dropPg?.();
  }
  rmSync(dataDir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return { kind, eps: Math.round(stored / seconds), p50: percentile(latencies, 50), p99: percentile(latencies, 99), stored, seconds };
}

async function main() {
  const kinds: Array<"sqlite" | "postgres"> = values.db === "both" ? ["postgres", "sqlite"] : [values.db as "sqlite" | "postgres"];
  const results = [];
  for (const k of kinds) {
    const r = await runOne(k);
    results.push(r);
    console.log(`${k}: ${r.stored} events stored in ${r.seconds.toFixed(1)} s = ${r.eps} events/s; batch latency p50 ${r.p50} ms, p99 ${r.p99} ms`);
    if (r.stored !== AGENTS * EVENTS) throw new Error(`${k}: stored ${r.stored}, expected ${AGENTS * EVENTS}`);
  }
  writeBenchSection(
    "ingest",
    [
      "## Ingest",
      "",
      `\`npm run bench:ingest\` — ${AGENTS} simulated agents × ${EVENTS} events, ${BATCH} events per batch, ${INFLIGHT} batches in flight per agent, over real gRPC (loopback) to a real controller process (plaintext gRPC: \`VIGIL_INSECURE_GRPC=1\`, so the figure is ingest, not TLS). Latency is from event creation to the controller's ack (sent after the transaction commits). SQLite runs with synchronous=FULL (an ack survives power loss); the detection pipeline runs on every stored event. The agents send as fast as acks allow (saturation), so the latency figures are mostly queueing behind 200k events in flight, not the cost of one batch. ${machine()}.`,
      "",
      "| database | events stored | seconds | events/s | p50 latency | p99 latency |",
      "|---|---|---|---|---|---|",
      ...results.map((r) => `| ${r.kind} | ${r.stored} | ${r.seconds.toFixed(1)} | ${r.eps} | ${r.p50} ms | ${r.p99} ms |`),
    ].join("\n"),
  );
  const sqlite = results.find((r) => r.kind === "sqlite");
  if (sqlite) console.log(`ingest: ${sqlite.eps} events/s stored (sqlite)`);
  else console.log(`ingest: ${results[0].eps} events/s stored (${results[0].kind})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
