/**
 * What routing correlation inputs costs in distributed mode (issue #12): detection routes every
 * match that feeds a correlation to the owner of its group through JetStream
 * (detection/jetstream-correlation-router.ts), on the thread that also serves ingest and the API.
 * This bench routes N realistic inputs (an SSH login feeding the brute-force-then-success and
 * login-then-exfiltration chains: ~20 fields, a key per user and source address) over the real
 * NATS JetStream, in calls of --call inputs as detection makes them (one per chunk of stored
 * events), to one router that owns every partition and counts what its owner is handed. It prints
 * the publishing rate, this process's CPU per input (publishing, and then reading back as the owner)
 * and the NATS server's CPU per input, and writes the docs/benchmarks.md section.
 *
 *   npm run bench:route -- [--inputs 50000] [--call 200] [--partitions 16] [--no-write]
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { connect } from "@nats-io/transport-node";
import { BusNames, deleteAllWithPrefix } from "../../controller/src/bus/streams";
import type { CorrelationOwner } from "../../controller/src/detection/correlation-router";
import type { OwnedInput, RoutedInput } from "../../controller/src/detection/engine-protocol";
import { JetStreamCorrelationRouter } from "../../controller/src/detection/jetstream-correlation-router";
import { machine, writeBenchSection } from "./lib/report";

const { values } = parseArgs({
  options: {
    inputs: { type: "string", default: "50000" },
    call: { type: "string", default: "200" },
    partitions: { type: "string", default: "16" },
    nats: { type: "string", default: process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222" },
    "no-write": { type: "boolean", default: false },
  },
});
const N = Number(values.inputs);
const CALL = Number(values.call);
const PARTITIONS = Number(values.partitions);

const TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s

/** The NATS server's CPU so far (ms), if it runs on this machine. */
function natsCpuMs(): number | undefined {
  try {
    const pid = execFileSync("pgrep", ["-o", "nats-server"]).toString().trim();
    const f = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return ((Number(rest[11]) + Number(rest[12])) * 1000) / TICKS;
  } catch {
    return undefined;
  }
}

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** A login that feeds correlations, as the detection worker hands it over (fields as mapped for Sigma). */
function input(i: number): RoutedInput {
  const user = `user${i % 50}`;
  const ip = `10.1.${(i >> 8) % 255}.${i % 255}`;
  const agentId = `agent-${i % 2000}`;
  return {
    key: `corr-brute-then-success|${JSON.stringify([ip, user])}`,
    anchor: "corr-brute-then-success",
    target: "corr-brute-then-success",
    rule: "ssh-login-success",
    agentId,
    seq: i,
    ev: {
      logsource: { product: "linux", service: "sshd" },
      timeMs: Date.now(),
      fields: {
        EventType: "auth",
        Action: "success",
        User: user,
        TargetUserName: user,
        SourceIp: ip,
        IpAddress: ip,
        Service: "sshd",
        Hostname: `h${i % 2000}`,
        AgentId: agentId,
        Method: "publickey",
        Message: `Accepted publickey for ${user} from ${ip} port ${40000 + (i % 20000)} ssh2: ED25519 SHA256:${randomBytes(12).toString("base64")}`,
        ProcessId: 1000 + (i % 30000),
        Image: "/usr/sbin/sshd",
        ParentImage: "/usr/sbin/sshd",
        TerminalSessionId: i % 977,
      },
    },
  };
}

async function main(): Promise<void> {
  const nc = await connect({ servers: values.nats });
  const names = new BusNames(`rb${randomBytes(4).toString("hex")}`);
  let received = 0;
  let allIn: () => void = () => undefined;
  const done = new Promise<void>((r) => (allIn = r));
  const owner: CorrelationOwner = {
    accept: async (inputs: OwnedInput[]) => {
      received += inputs.length;
      if (received >= N) allIn();
    },
    drop: async () => undefined,
    clocks: async () => undefined,
  };
  const router = new JetStreamCorrelationRouter({
    nc,
    names,
    partitions: PARTITIONS,
    replicaId: "bench",
    leaseTtlMs: 10_000,
    log: (level, msg, fields) => level !== "info" && console.error(level, msg, fields),
  });
  await router.start(owner);
  const start = Date.now();
  while (router.ownedPartitions().length < PARTITIONS) {
    if (Date.now() - start > 30_000) throw new Error(`owns ${router.ownedPartitions().length} of ${PARTITIONS} partitions after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // As detection does for each chunk: its routed inputs, then its hosts' clocks to the partitions they fed.
  const routeChunk = async (inputs: RoutedInput[]) => {
    await router.route(inputs);
    const newest = new Map<string, number>();
    for (const x of inputs) newest.set(x.agentId, Math.max(newest.get(x.agentId) ?? 0, x.ev.timeMs));
    await router.clocks(newest);
  };
  const all = Array.from({ length: N }, (_, i) => input(i));
  // Warm up (JIT, the stream's first blocks) on inputs outside the measured ones' keys.
  await routeChunk(Array.from({ length: 2_000 }, (_, i) => ({ ...input(N + i), seq: N + i })));
  for (const until = Date.now() + 30_000; received < 2_000;) {
    if (Date.now() > until) throw new Error(`warm-up: the owner got ${received} of 2000 inputs in 30 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  received = 0;

  const published0 = router.stats.published ?? 0;
  const nats0 = natsCpuMs();
  const cpu0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < N; i += CALL) await routeChunk(all.slice(i, i + CALL));
  const t1 = performance.now();
  await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`owner got ${received} of ${N} in 120 s`)), 120_000))]);
  const t2 = performance.now();
  const cpu2 = cpuMs();
  const nats2 = natsCpuMs();
  // Routers before batches published one message per input and had no such counter.
  const messages = router.stats.published === undefined ? N : router.stats.published - published0;
  await router.stop();
  await deleteAllWithPrefix(nc, names);
  await nc.close();

  const perInput = (ms: number) => ((ms * 1000) / N).toFixed(1);
  const rate = Math.round(N / ((t1 - t0) / 1000));
  const natsPer = nats0 !== undefined && nats2 !== undefined ? perInput(nats2 - nats0) : "n/a";
  const rows = [
    `| inputs | per route() call | partitions | messages published | routed/s | all received after | controller CPU per input | NATS server CPU per input |`,
    `|---|---|---|---|---|---|---|---|`,
    `| ${N} | ${CALL} | ${PARTITIONS} | ${messages} | ${rate.toLocaleString("en-US")} | ${Math.round(t2 - t0)} ms | ${perInput(cpu2 - cpu0)} µs | ${natsPer} µs |`,
  ];
  const load = loadavg()[0]!.toFixed(1);
  console.log(rows.join("\n"));
  if (!values["no-write"]) {
    writeBenchSection(
      "route",
      [
        `## Routing correlation inputs (bench:route, issue #12)`,
        ``,
        `\`npm run bench:route -- --inputs ${N} --call ${CALL} --partitions ${PARTITIONS}\` (${machine()}, load ${load} at the end): one router owning every partition on the`,
        `local NATS JetStream; ${N} SSH-login inputs (~20 fields each) routed in calls of ${CALL}, each followed by its hosts' clocks, as detection routes a chunk's matches; CPU read`,
        `from this process (publishing, and reading back as the owner at the same time, as a replica owning partitions does) and from the
nats-server process (USER_HZ ticks), from the first publish until the owner has every input.`,
        ``,
        ...rows,
      ].join("\n"),
    );
  }
  console.log(`route: ${N} inputs in ${messages} messages, ${rate} routed/s, controller ${perInput(cpu2 - cpu0)} µs and NATS ${natsPer} µs of CPU per input`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
