/**
 * What DNS visibility costs: the eBPF DNS programs run on every sendto/sendmsg/sendmmsg/recvfrom/
 * recvmsg of the host, and the agent parses what they copy. One Node process in a private network
 * namespace bounces N UDP round trips between two of its sockets (an unconnected client and a
 * server), on port 9053 (UDP that is not DNS: the programs look at the socket and let it go) and
 * on port 53 (the same bytes, a DNS query and its answer: copied and parsed). Each run is done
 * with no helper loaded, with the helper without its DNS programs (--no-dns) and with them, in
 * turn; the workload's own CPU (user + system, its syscalls included) per round trip is the host's
 * cost, the median of the rounds. The agent's side: this process runs the helper, the process
 * sensor and the DNS sensor (no rate cap, a counting sink: parsing and pairing, not the pipeline)
 * and its own CPU during the port-53 runs, per lookup. And the programs' own run time, from the
 * kernel's BPF statistics (sysctl kernel.bpf_stats_enabled, on only while the DNS runs go and put
 * back as it was): what the host pays per syscall, which the workload's CPU shows through noise.
 *
 *   npm run build && sudo npm run bench:dns -- [--trips 20000] [--rounds 3]
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EbpfDnsSensor, EbpfHelper, EbpfProcessSensor } from "../../agent/src/sensors/ebpf";
import type { EventSink } from "../../agent/src/sensors/sensor";
import { machine, ROOT, writeBenchSection } from "./lib/report";

const { values } = parseArgs({ options: { trips: { type: "string", default: "20000" }, rounds: { type: "string", default: "3" } } });
const TRIPS = Number(values.trips);
const ROUNDS = Number(values.rounds);
const HELPER = join(ROOT, "dist/vigil-ebpf");
const NS = `vgldnsbench${process.pid}`;

/** N round trips client -> server:port -> client; prints its own CPU (µs) when done. */
const WORKLOAD = `
const dgram = require("dgram");
const [port, n] = process.argv.slice(1).map(Number);
const q = Buffer.from("abcd01000001000000000000" + "0962656e63686d61726b05766967696c076578616d706c6500" + "00010001", "hex");
const a = Buffer.concat([Buffer.from("abcd8180000100010000000000", "hex").subarray(0, 12), q.subarray(12), Buffer.from("c00c000100010000003c00040a000001", "hex")]);
const server = dgram.createSocket("udp4"), client = dgram.createSocket("udp4");
server.on("message", (m, from) => server.send(a, from.port, from.address));
let left = n;
client.on("message", () => { if (--left === 0) { const u = process.cpuUsage(); process.stdout.write(String(u.user + u.system)); process.exit(0); } client.send(q, port, "127.0.0.1"); });
server.bind(port, "127.0.0.1", () => client.send(q, port, "127.0.0.1"));`;

function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString().trim()}`);
}

/** The workload's CPU per round trip (µs). */
async function workload(port: number): Promise<number> {
  const child = spawn("ip", ["netns", "exec", NS, process.execPath, "-e", WORKLOAD, String(port), String(TRIPS)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  if (code !== 0) throw new Error(`workload exited ${code}`);
  return Number(out) / TRIPS;
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

const STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled";

/** Run count and time (ns) of each loaded BPF program named vigil_dns_*, by id. */
function dnsProgramStats(): Map<number, { name: string; runs: number; ns: number }> {
  const r = spawnSync("bpftool", ["prog", "show", "-j"], { encoding: "utf8", maxBuffer: 64 << 20 });
  const out = new Map<number, { name: string; runs: number; ns: number }>();
  if (r.status !== 0) return out;
  for (const p of JSON.parse(r.stdout) as { id: number; name?: string; run_cnt?: number; run_time_ns?: number }[])
    if (p.name?.startsWith("vigil_dns")) out.set(p.id, { name: p.name, runs: p.run_cnt ?? 0, ns: p.run_time_ns ?? 0 });
  return out;
}

/** ns per run of each DNS program between two readings, programs of one helper only (`ids`). */
function perRun(before: Map<number, { runs: number; ns: number }>, after: ReturnType<typeof dnsProgramStats>, ids: Set<number>): { name: string; runs: number; ns: number }[] {
  return [...after].filter(([id]) => ids.has(id)).map(([id, a]) => ({ name: a.name, runs: a.runs - (before.get(id)?.runs ?? 0), ns: a.ns - (before.get(id)?.ns ?? 0) }));
}

type Mode = "no helper" | "helper --no-dns" | "helper with DNS";

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("needs root (BPF programs, a network namespace)");
  if (!existsSync(HELPER)) throw new Error("dist/vigil-ebpf not built (npm run build)");
  sh(["ip", "netns", "add", NS]);
  try {
    sh(["ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up"]);
    const cost: Record<Mode, { other: number[]; dns: number[] }> = {
      "no helper": { other: [], dns: [] },
      "helper --no-dns": { other: [], dns: [] },
      "helper with DNS": { other: [], dns: [] },
    };
    const agentUs: number[] = [];
    /** Per port: the DNS programs' total run time per round trip, and per program ns per run. */
    const kernelNs: Record<number, { perTrip: number[]; programs: Map<string, { runs: number; ns: number }> }> = {
      9053: { perTrip: [], programs: new Map() },
      53: { perTrip: [], programs: new Map() },
    };
    const statsWas = existsSync(STATS_SYSCTL) ? readFileSync(STATS_SYSCTL, "utf8").trim() : undefined;
    let lookups = 0;
    let malformed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of Object.keys(cost) as Mode[]) {
        const idsBefore = new Set(dnsProgramStats().keys());
        const helper = mode === "no helper" ? undefined : new EbpfHelper({ path: HELPER, prefixes: [], dns: mode === "helper with DNS" });
        let events = 0;
        const sink: EventSink = { emit: (b) => void (b.$case === "dns" && events++) };
        const proc = helper ? new EbpfProcessSensor(helper) : undefined;
        const dns = helper && proc && mode === "helper with DNS" ? new EbpfDnsSensor(helper, proc, { maxEventsPerSec: 0 }) : undefined;
        await proc?.start(sink);
        await dns?.start(sink);
        const ids = new Set([...dnsProgramStats().keys()].filter((id) => !idsBefore.has(id)));
        /** Runs a workload, with the BPF statistics on around it when this helper has DNS programs. */
        const measured = async (port: number): Promise<number> => {
          if (!dns || statsWas === undefined) return workload(port);
          writeFileSync(STATS_SYSCTL, "1");
          const before = dnsProgramStats();
          try {
            return await workload(port);
          } finally {
            const runs = perRun(before, dnsProgramStats(), ids);
            writeFileSync(STATS_SYSCTL, statsWas);
            // Programs the workload ran (at least once per round trip); the others' few runs are the host's other work.
            kernelNs[port]!.perTrip.push(runs.filter((p) => p.runs >= TRIPS).reduce((t, p) => t + p.ns, 0) / TRIPS);
            for (const p of runs) {
              const acc = kernelNs[port]!.programs.get(p.name) ?? { runs: 0, ns: 0 };
              kernelNs[port]!.programs.set(p.name, { runs: acc.runs + p.runs, ns: acc.ns + p.ns });
            }
          }
        };
        try {
          cost[mode].other.push(await measured(9053));
          const before = process.cpuUsage();
          cost[mode].dns.push(await measured(53));
          if (dns) {
            // The records still in the pipe are the agent's work too.
            for (let i = 0; i < 200 && events < TRIPS; i++) await new Promise((r) => setTimeout(r, 10));
            const used = process.cpuUsage(before);
            agentUs.push((used.user + used.system) / Math.max(1, events));
            lookups += events;
            malformed += dns.malformed;
          }
        } finally {
          await dns?.stop();
          await proc?.stop();
          await helper?.stop();
        }
      }
    }
    const load = loadavg()[0]!.toFixed(1);
    const f = (x: number): string => `${x.toFixed(2)} µs`;
    const rows = (Object.keys(cost) as Mode[]).map((m) => `| ${m} | ${f(median(cost[m].other))} | ${f(median(cost[m].dns))} |`);
    const progs = (port: number): string =>
      [...kernelNs[port]!.programs]
        .filter(([, p]) => p.runs >= TRIPS * ROUNDS)
        .map(([name, p]) => `${name} ${(p.ns / p.runs).toFixed(0)} ns × ${(p.runs / TRIPS / ROUNDS).toFixed(0)}`)
        .join(", ");
    const kernelLine =
      statsWas === undefined
        ? "BPF statistics unavailable (no kernel.bpf_stats_enabled)."
        : `The DNS programs' own run time (kernel BPF statistics), per round trip: ${(median(kernelNs[9053]!.perTrip) / 1000).toFixed(2)} µs on port 9053 (${progs(9053)} per trip), ${(median(kernelNs[53]!.perTrip) / 1000).toFixed(2)} µs on port 53 (${progs(53)}).`;
    const md = [
      `\`npm run bench:dns -- --trips ${TRIPS} --rounds ${ROUNDS}\` (${machine()}): one process bounces ${TRIPS} UDP round trips between two of its sockets in a private network namespace (client sendmsg, server recvmsg + sendmsg, client recvmsg: four traced syscalls each), on a port that is not DNS and on port 53 (a DNS query for one name and its one-A answer, 41 and 57 bytes). Its CPU (user + system) per round trip, median of ${ROUNDS} rounds, the three setups taken in turn:`,
      "",
      "| kernel sensor | UDP, port 9053 | DNS, port 53 |",
      "|---|---|---|",
      ...rows,
      "",
      kernelLine,
      "",
      `The agent's side (this process running the helper, the process sensor and the DNS sensor with no rate cap, events to a counting sink: frames, parsing, pairing, the name map; not the pipeline): ${f(median(agentUs))} of CPU per lookup (median; ${lookups} lookups reported, ${malformed} malformed). Load average at the end: ${load} on 2 cores.`,
    ].join("\n");
    console.log(md);
    writeBenchSection("dns", md);
    const extra = median(cost["helper with DNS"].dns) - median(cost["helper --no-dns"].dns);
    console.log(`dns: +${f(extra)} per DNS round trip in the kernel, agent ${f(median(agentUs))} per lookup (load ${load})`);
  } finally {
    spawnSync("ip", ["netns", "del", NS]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
