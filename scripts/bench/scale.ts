/**
 * Scale benchmark (issue #12): R controller replicas (real processes) on one PostgreSQL and one
 * NATS JetStream, N simulated agents over real mTLS gRPC (forked fleet processes speaking the agent
 * protocol; 10,000 agent processes do not fit on one machine), each a realistic mix at a few
 * events/s with bursts. Prints events/s stored in PostgreSQL (rows counted in the database over
 * the measurement window), p99 of produce→ack (the ack follows JetStream's PubAck), replicas'
 * RSS; writes a docs/benchmarks.md section.
 *
 *   npm run bench:scale -- [--agents 10000] [--replicas 3] [--rate 3] [--seconds 60] [--fleet-procs 4] [--drain 30]
 *
 * After the window the fleet is stopped and, for up to `--drain` seconds, the replicas work off the
 * backlog JetStream holds: what they store and detect then is the controllers' own capacity on this
 * machine, without the simulated fleet's share of the cores (0 skips the phase).
 */
import { fork, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "pg";
import { closeBus, connectBus } from "../../controller/src/bus/nats-connection";
import { BusNames, deleteAllWithPrefix } from "../../controller/src/bus/streams";
import type { PartitionLeaseStats as LeaseStats } from "../../controller/src/bus/partition-leases";
import { freePort, startControllerProcess, type ControllerProcess } from "../../controller/test/support/controller-process";
import { cpuShares, readCpuTotals } from "./lib/scale/cpu-share";
import { issueFleet } from "./lib/scale/issue-certificates";
import { machine, percentile, writeBenchSection } from "./lib/report";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "10000" },
    replicas: { type: "string", default: "3" },
    rate: { type: "string", default: "3" },
    seconds: { type: "string", default: "60" },
    "fleet-procs": { type: "string", default: "4" },
    "connect-timeout": { type: "string", default: "600" },
    drain: { type: "string", default: "30" },
  },
});
const AGENTS = Number(values.agents);
const REPLICAS = Number(values.replicas);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const PROCS = Number(values["fleet-procs"]);
const DRAIN_SECONDS = Number(values.drain);
const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

interface FleetStats {
  connected: number;
  produced: number;
  acked: number;
  forgotten: number;
  connects: number;
  errors: number;
  latencies: number[];
}

const PG_ADMIN = process.env.VIGIL_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** A database of its own, dropped at the end. */
async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `vigil_scale_${process.pid}_${randomBytes(3).toString("hex")}`;
  const admin = new Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  return {
    url: PG_ADMIN.replace(/\/[^/]*$/, `/${name}`),
    drop: async () => {
      const c = new Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

const t0 = Date.now();
/** The machine is shared (CI, other jobs): its load when the bench started is part of the result. */
const LOAD_AT_START = loadavg()[0];
const say = (s: string) => process.stderr.write(`[scale ${((Date.now() - t0) / 1000).toFixed(0)}s] ${s}\n`);

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** A lease counter set as "lost N (other a, expired b; recovered c)": lost = taken by another replica or stopped locally. */
function leaseText(l: LeaseStats | undefined): string {
  if (!l) return "?";
  return `lost ${l.lostToOther + l.expiredLocally} (other ${l.lostToOther}, expired ${l.expiredLocally}; acquired ${l.acquired}, released ${l.released}, recovered ${l.renewalsRecovered}, start failures ${l.startFailures})`;
}

/** Each replica's storage and correlation lease counters, from its health endpoint. */
async function replicaLeases(r: ControllerProcess): Promise<{ storage?: LeaseStats; correlation?: LeaseStats }> {
  const res = await r.get("/api/v1/healthz");
  const d = (res.body as { distributed?: { leases?: LeaseStats; correlationLeases?: LeaseStats } }).distributed;
  return { storage: d?.leases, correlation: d?.correlationLeases };
}

/** One replica's storage progress from its health endpoint: owned partitions, messages written, failed and fenced rounds. */
async function replicaLine(r: ControllerProcess): Promise<string> {
  try {
    const res = await r.get("/api/v1/healthz");
    const h = res.body as {
      detection?: { queuedEvents: number; stageMs: Record<string, number> };
      eventLoop?: { p99Ms: number; maxMs: number };
      registrations?: { reads: { batches: number; items: number }; writes: { batches: number; items: number } };
      distributed?: {
        partitions?: number[];
        storage?: Record<string, number>;
        storageTiming?: Record<string, number>;
        storagePhases?: Array<{ phase: string; forMs: number }>;
        leases?: LeaseStats;
        detectionFeed?: Record<string, number>;
      };
    };
    const s = h.distributed?.storage ?? {};
    const phases = new Map<string, number>();
    for (const p of h.distributed?.storagePhases ?? []) phases.set(p.phase, Math.max(phases.get(p.phase) ?? 0, p.forMs));
    const waits = [...phases].map(([p, ms]) => `${p} ≤${(ms / 1000).toFixed(0)}s`).join(",");
    const det = h.detection
      ? ` detect queued ${h.detection.queuedEvents} ms ${Object.entries(h.detection.stageMs)
          .map(([k, v]) => `${k}:${(v / 1000).toFixed(1)}s`)
          .join(" ")}`
      : "";
    const l = h.distributed?.leases;
    const lost = l ? l.lostToOther + l.expiredLocally : "?";
    const f = h.distributed?.detectionFeed;
    const feed = f ? ` detected ${f.events} (replayed ${f.replayed}, commits ${f.commits}, fenced ${f.fenced}, restarts ${f.restarts})` : "";
    // Per committed write: rows, total time and its steps (EventCopyStore.timing), and the decode before it.
    const tm = h.distributed?.storageTiming;
    const steps = tm ? Object.entries(tm).filter(([k]) => k.endsWith("Ms")) : [];
    const perWrite = tm?.writes
      ? ` writes ${tm.writes} (${((s.events + s.duplicates) / tm.writes).toFixed(0)} rows, ${(steps.reduce((a, [, v]) => a + v, 0) / tm.writes).toFixed(0)} ms [${steps
          .map(([k, v]) => `${k.replace(/Ms$/, "")} ${(v / tm.writes).toFixed(0)}`)
          .join(" ")} ms], staged ${tm.stagedWrites ?? 0}, decode ${(s.decodeMs / tm.writes).toFixed(0)} ms each)`
      : "";
    const loop = h.eventLoop ? ` loop p99 ${h.eventLoop.p99Ms} max ${h.eventLoop.maxMs} ms` : "";
    const rg = h.registrations;
    const reg = rg ? ` registrations ${rg.writes.items} in ${rg.writes.batches} writes` : "";
    return `${res.status}${loop}${reg} parts ${h.distributed?.partitions?.length ?? "?"} leases lost ${lost} stored ${s.events ?? "?"}${perWrite} fail ${s.failures ?? "?"} fenced ${s.fenced ?? "?"} restarts ${s.restarts ?? "?"} [${waits}]${feed}${det}`;
  } catch (err) {
    return `health failed: ${String(err).slice(0, 80)}`;
  }
}

/** Events handed to detection by every replica's detection consumer since start (NaN before detection read its own consumer). */
async function detectedTotal(replicas: ControllerProcess[]): Promise<number> {
  const each = await Promise.all(
    replicas.map(async (r) => {
      try {
        const res = await r.get("/api/v1/healthz");
        return (res.body as { distributed?: { detectionFeed?: { events: number } } }).distributed?.detectionFeed?.events ?? NaN;
      } catch {
        return NaN;
      }
    }),
  );
  return each.reduce((a, b) => a + b, 0);
}

interface Drain {
  /** From the fleet's stop to the last second the stored count grew (or the phase's end). */
  seconds: number;
  stored: number;
  detected: number;
  /** Whether the stored count stopped growing before the phase ended: the backlog was worked off. */
  workedOff: boolean;
  /** Cores each group used over the phase. */
  cpu: string;
}

/** Asks the fleet's processes to stop, then kills what is left, and resolves once all have exited. */
async function stopFleet(fleet: ChildProcess[]): Promise<void> {
  for (const c of fleet) if (c.connected) c.send({ kind: "stop" });
  await new Promise((r) => setTimeout(r, 500));
  await Promise.all(
    fleet.map((c) =>
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => {
            c.once("exit", () => r());
            c.kill("SIGKILL");
          }),
    ),
  );
}

/**
 * Stops the fleet and measures what the replicas store and detect from the backlog alone, until
 * the stored count stops growing (3 s) or DRAIN_SECONDS pass. Counting starts after the fleet's
 * processes are gone.
 */
async function drainBacklog(fleet: ChildProcess[], replicas: ControllerProcess[], count: () => Promise<number>): Promise<Drain> {
  await stopFleet(fleet);
  const labels = new Map(replicas.map((r, i) => [r.child.pid!, `replica ${i + 1}`]));
  const cpuBefore = readCpuTotals(labels);
  const start = { stored: await count(), detected: await detectedTotal(replicas), at: Date.now() };
  const end = start.at + DRAIN_SECONDS * 1000;
  let stored = start.stored;
  let grewAt = start.at;
  let detected = start.detected;
  while (Date.now() < end && Date.now() - grewAt < 3_000) {
    await new Promise((r) => setTimeout(r, 500));
    const n = await count();
    if (n > stored) {
      stored = n;
      grewAt = Date.now();
      detected = await detectedTotal(replicas);
    }
  }
  const workedOff = Date.now() - grewAt >= 3_000;
  const seconds = (grewAt - start.at) / 1000 || 1;
  const d: Drain = {
    seconds,
    stored: (stored - start.stored) / seconds,
    detected: (detected - start.detected) / seconds,
    workedOff,
    cpu: cpuShares(cpuBefore, readCpuTotals(labels), (Date.now() - start.at) / 1000),
  };
  say(`drain ${seconds.toFixed(0)}s with the fleet stopped${workedOff ? " (worked off)" : ""}: stored ${d.stored.toFixed(0)}/s, detected ${d.detected.toFixed(0)}/s; cores: ${d.cpu}`);
  say(`replicas: ${(await Promise.all(replicas.map(replicaLine))).join(" | ")}`);
  return d;
}

function drainText(d: Drain): string {
  const ended = d.workedOff ? "until the backlog was worked off" : "the backlog not yet worked off at the end";
  return `**With the fleet stopped** (the replicas working off what JetStream holds for ${d.seconds.toFixed(0)} s, ${ended}): ${d.stored.toFixed(0)} events/s stored, ${d.detected.toFixed(0)} events/s detected; cores used meanwhile: ${d.cpu}.
`;
}

async function main(): Promise<void> {
  const prefix = `bscale${randomBytes(3).toString("hex")}`;
  const pg = await createPgDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-scale-"));
  const replicas: ControllerProcess[] = [];
  const fleet: ChildProcess[] = [];
  try {
    const env = {
      VIGIL_INSECURE_GRPC: "0",
      VIGIL_NATS_URL: NATS_URL,
      VIGIL_NATS_PREFIX: prefix,
      VIGIL_PARTITIONS: "16",
      // Ingest and storage are measured; the SigmaHQ pack's 3,000 rules would be compiled by every replica.
      VIGIL_SIGMAHQ_PACK: "off",
      // 10,000 agents each at a few events/s: the default seq window fits, the offline threshold must tolerate a loaded box.
      VIGIL_AGENT_OFFLINE_AFTER: "5m",
    };
    const start = async (n: number) =>
      replicas.push(await startControllerProcess({ grpcPort: await freePort(), dataDir, databaseUrl: pg.url, env: { ...env, VIGIL_REPLICA_ID: `scale-${n}` }, readyTimeoutMs: 120_000 }));
    await start(1);
    await Promise.all(Array.from({ length: REPLICAS - 1 }, (_, i) => start(i + 2)));
    say(`${REPLICAS} replicas ready`);
    const caPem = readFileSync(join(dataDir, "ca", "ca.crt"), "utf8");
    const ids = await issueFleet(pg.url, join(dataDir, "ca"), AGENTS, 32, { sharedKey: true });
    say(`${AGENTS} certificates issued`);
    const addresses = replicas.map((r) => `localhost:${r.grpcPort}`);
    const stats = new Map<number, FleetStats>();
    const per = Math.ceil(AGENTS / PROCS);
    for (let p = 0; p < PROCS; p++) {
      const child = fork(join(__dirname, "lib/scale/fleet-worker.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
      child.on("message", (m: FleetStats & { kind: string }) => {
        if (m.kind === "stats") stats.set(p, m);
      });
      child.send({ kind: "start", ids: ids.slice(p * per, (p + 1) * per), firstIndex: p * per, caPem, addresses, rate: RATE });
      fleet.push(child);
    }
    const total = () =>
      [...stats.values()].reduce((a, s) => ({ connected: a.connected + s.connected, acked: a.acked + s.acked, produced: a.produced + s.produced, forgotten: a.forgotten + s.forgotten }), {
        connected: 0,
        acked: 0,
        produced: 0,
        forgotten: 0,
      });
    const connectDeadline = Date.now() + Number(values["connect-timeout"]) * 1000;
    const connectStart = Date.now();
    let last = 0;
    while (total().connected < AGENTS && Date.now() < connectDeadline) {
      await new Promise((r) => setTimeout(r, 1_000));
      if (Date.now() - last > 10_000) {
        last = Date.now();
        const all = [...stats.values()];
        say(`${total().connected} agents connected (${all.reduce((n, x) => n + x.connects, 0)} stream opens, ${all.reduce((n, x) => n + x.errors, 0)} stream errors)`);
      }
    }
    const connectSeconds = (Date.now() - connectStart) / 1000;
    say(`${total().connected} connected after ${connectSeconds.toFixed(0)}s; warming up`);
    await new Promise((r) => setTimeout(r, 10_000));

    const pgc = new Client({ connectionString: pg.url });
    await pgc.connect();
    const count = async () => Number((await pgc.query<{ n: string }>("SELECT COUNT(*) AS n FROM events")).rows[0].n);
    const latencies: number[] = [];
    for (const s of stats.values()) s.latencies = [];
    const cpuLabels = new Map<number, string>([...replicas.map((r, i) => [r.child.pid!, `replica ${i + 1}`] as const), ...fleet.map((c) => [c.pid!, "fleet"] as const)]);
    const cpuBefore = readCpuTotals(cpuLabels);
    const before = { stored: await count(), at: Date.now(), acked: total().acked, detected: await detectedTotal(replicas) };
    const rss: number[] = [];
    let minConnected = Number.MAX_SAFE_INTEGER;
    const windowEnd = Date.now() + SECONDS * 1000;
    while (Date.now() < windowEnd) {
      await new Promise((r) => setTimeout(r, 1_000));
      for (const s of stats.values()) latencies.push(...s.latencies.splice(0));
      minConnected = Math.min(minConnected, total().connected);
      rss.push(replicas.reduce((n, r) => n + rssMb(r.child.pid!), 0));
      if (Date.now() - last > 10_000) {
        last = Date.now();
        say(`replicas: ${(await Promise.all(replicas.map(replicaLine))).join(" | ")}`);
      }
    }
    const after = { stored: await count(), at: Date.now(), acked: total().acked, detected: await detectedTotal(replicas) };
    const windowCpu = cpuShares(cpuBefore, readCpuTotals(cpuLabels), (after.at - before.at) / 1000);
    say(`cores used over the window: ${windowCpu}`);
    // Lease churn (issue #12): every lost lease stops and restarts a partition's consumer somewhere.
    const leases = await Promise.all(replicas.map((r) => replicaLeases(r).catch(() => ({}) as Awaited<ReturnType<typeof replicaLeases>>)));
    leases.forEach((l, i) => say(`replica ${i + 1} leases: storage ${leaseText(l.storage)}; correlation ${leaseText(l.correlation)}`));
    const lostLeases = leases.map((l) => (l.storage ? l.storage.lostToOther + l.storage.expiredLocally : NaN) + (l.correlation ? l.correlation.lostToOther + l.correlation.expiredLocally : 0));
    const seconds = (after.at - before.at) / 1000;
    const stored = (after.stored - before.stored) / seconds;
    const ackedRate = (after.acked - before.acked) / seconds;
    const detectedRate = (after.detected - before.detected) / seconds;
    const lag = await pgc.query<{ n: string }>("SELECT COUNT(*) AS n FROM events");
    const drain = DRAIN_SECONDS > 0 ? await drainBacklog(fleet, replicas, count) : undefined;
    await pgc.end();
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const maxRss = Math.max(...rss);
    const connected = total().connected;
    const t = total();
    const perAgentKb = (maxRss * 1024) / Math.max(1, connected);
    say(
      `window ${seconds.toFixed(0)}s: acked ${ackedRate.toFixed(0)}/s, stored ${stored.toFixed(0)}/s, detected ${detectedRate.toFixed(0)}/s; produced ${t.produced}, acked ${t.acked}, stored ${lag.rows[0].n}; forgotten acks ${t.forgotten}`,
    );

    writeBenchSection(
      `scale-${REPLICAS}`,
      `## Scale-out: ${REPLICAS} replica(s), ${AGENTS.toLocaleString("en")} mTLS agents (issue #12)

\`npm run bench:scale -- --agents ${AGENTS} --replicas ${REPLICAS} --rate ${RATE} --seconds ${SECONDS}\` — ${machine()}. ${REPLICAS} controller
process(es) (\`serve\`, role all, distributed mode: VIGIL_NATS_URL + PostgreSQL, 16 partitions, SigmaHQ pack off) on this machine with
PostgreSQL, NATS JetStream and the simulated fleet (${PROCS} processes of simulated agents over real mTLS gRPC, each agent a process/network/auth
mix at ${RATE} events/s with a burst of ${20 * RATE} every 30 s). Stored = rows counted in PostgreSQL over the ${seconds.toFixed(0)} s window;
latency = event produced → agent acked (after JetStream stored it; the PostgreSQL write follows asynchronously). Detected = events
handed to detection by the replicas' detection consumers over the window (detection reads the stream apart from storage).

| agents connected (min in window) | connect-all time | acked events/s | stored events/s (postgres) | detected events/s | p50 / p99 ack latency | replicas' RSS (peak, sum) | RSS per connected agent |
|---|---|---|---|---|---|---|---|
| ${connected} (${minConnected}) | ${connectSeconds.toFixed(0)} s | ${ackedRate.toFixed(0)} | ${stored.toFixed(0)} | ${detectedRate.toFixed(0)} | ${p50} / ${p99} ms | ${maxRss.toFixed(0)} MB | ${perAgentKb.toFixed(0)} KB |

Cores used over the window: ${windowCpu}.
${drain ? drainText(drain) : ""}Forgotten acks (a reconnect resumed below what the agent had been acked): ${t.forgotten}. Partition leases lost per replica since start
(storage + correlation; taken by another replica or stopped locally before renewal): ${lostLeases.join(", ")}. Load average (1 min) when the bench started: ${LOAD_AT_START.toFixed(1)} on ${cpus().length} cores.`,
    );
    const warnings = replicas.map((r) =>
      r
        .output()
        .split("\n")
        .filter((l) => /"level":(40|50)/.test(l)),
    );
    const byMessage = new Map<string, number>();
    for (const line of warnings.flat()) {
      const key = /"msg":"([^"]*)"/.exec(line)?.[1] + " " + (/"(?:err|error)":"([^"]{0,120})/.exec(line)?.[1] ?? "");
      byMessage.set(key, (byMessage.get(key) ?? 0) + 1);
    }
    say(`replica warnings/errors: ${warnings.map((w) => w.length).join(", ")}; by message: ${[...byMessage].map(([m, n]) => `${n}× ${m}`).join(" | ")}`);
    process.stdout.write(`scale: ${connected} agents connected, ${stored.toFixed(0)} events/s stored (postgres), p99 ${p99} ms, ${REPLICAS} replicas, controller RSS ${maxRss.toFixed(0)} MB\n`);
  } finally {
    await stopFleet(fleet);
    await Promise.all(replicas.map((r) => r.stop("SIGTERM")));
    const nc = await connectBus({ url: NATS_URL, name: "bench-scale-cleanup", log: () => undefined });
    await deleteAllWithPrefix(nc, new BusNames(prefix));
    await closeBus(nc);
    await pg.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:scale failed: ${String(err)}\n`);
  process.exit(1);
});
