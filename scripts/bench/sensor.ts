/**
 * Process visibility per source: the real SEA agent (default sensors) against a real controller,
 * with the kernel feed (eBPF), forced to auditd's exec records (a private auditd of the bench's
 * own, as agent/test/helpers/private-auditd.ts starts it), and forced to /proc polling. For each: how many of N
 * short execs (/bin/true with a marker) reach the controller with their argv, what the agent
 * costs per exec (the exec loop's wall time against a run with no agent), and what it costs at
 * idle (CPU share, and memory: the agent's own VmRSS after a minute at idle, which the target is
 * read on, and the agent plus its children as RSS, which counts a page shared by two of them
 * twice, and PSS from smaps_rollup, which splits it), and what it costs under the exec load (its
 * own CPU per exec handled, and its VmRSS after that burst).
 *
 *   npm run build:agent && npm run bench:sensor -- [--execs 2000] [--idle 20] [--warmup 60] [--sources ebpf,audit,proc] [--binary OTHER]
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type RunningController, startController } from "../../controller/dist/app/bootstrap";
import { loadConfig } from "../../controller/dist/config/config";
import { createLogger } from "../../controller/dist/logging/logger";
import { PrivateAuditd, auditdUnavailable } from "../../agent/test/helpers/private-auditd";
import { machine, ROOT, writeBenchSection } from "./lib/report";
import { agentUnitEnvironment } from "./lib/unit-environment";

const { values } = parseArgs({
  options: {
    execs: { type: "string", default: "2000" },
    idle: { type: "string", default: "20" },
    warmup: { type: "string", default: "60" },
    sources: { type: "string", default: "ebpf,audit,proc" },
    binary: { type: "string" },
    "node-options": { type: "string" },
  },
});
/** Another agent build to measure (an A/B against an older one); docs/benchmarks.md is then left alone. */
const BINARY = values.binary;
const SOURCES = values.sources!.split(",") as Source[];
const EXECS = Number(values.execs);
const IDLE_S = Number(values.idle);
const WARMUP_S = Number(values.warmup);
const TICK = 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** Rss, Pss, Pss_Anon and Pss_File of one process (bytes), from /proc/<pid>/smaps_rollup. */
interface Mem {
  rss: number;
  pss: number;
  anon: number;
  file: number;
}
const NO_MEM: Mem = { rss: 0, pss: 0, anon: 0, file: 0 };

function memOf(pid: number): Mem {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb("Rss"), pss: kb("Pss"), anon: kb("Pss_Anon"), file: kb("Pss_File") };
  } catch {
    return NO_MEM;
  }
}

/** VmRSS of one process (bytes), from /proc/<pid>/status. */
function vmRss(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/**
 * Drops the agent binary's pages from the page cache before it starts, so every run reads it in
 * the same way, as a host does after a reboot. Right after `npm run build:agent` wrote it, the
 * page cache holds the binary in large folios, and Linux (6.18) maps a whole large folio on a
 * fault, so the same agent shows ~12 MB more file-backed RSS than when it starts from a binary it
 * reads in itself: a state of the build machine, not of the agent (docs/benchmarks.md).
 */
function dropFromPageCache(file: string): void {
  // GNU dd: iflag=nocache with count=0 asks the kernel to drop the whole file's cached pages.
  const res = spawnSync("dd", [`if=${file}`, "iflag=nocache", "count=0"], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`could not drop ${file} from the page cache: ${res.stderr}`);
}

const addMem = (a: Mem, b: Mem): Mem => ({ rss: a.rss + b.rss, pss: a.pss + b.pss, anon: a.anon + b.anon, file: a.file + b.file });
const MB = 1048576;

/** The agent and its helper (a direct child), which is part of what the agent costs. */
function family(pid: number): number[] {
  const out = [pid];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      const children = readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim();
      if (children) out.push(...children.split(/\s+/).map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

/** "0m1.234s" → ms. */
function shellTime(t: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(t.trim());
  return m ? (Number(m[1]) * 60 + Number(m[2])) * 1000 : NaN;
}

/**
 * CPU time (user + system, the shell and its children) of N execs of /bin/true from one shell,
 * the median of three runs. The tracepoint programs run in the exec'ing task, so their cost lands
 * here; the agent's own work is measured apart (its idle and busy CPU).
 */
function execLoopMs(marker: string, n: number): number {
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const res = spawnSync("sh", ["-c", `i=0; while [ $i -lt ${n} ]; do /bin/true ${marker}-${r} $i; i=$((i+1)); done; times`], { encoding: "utf8" });
    if (res.status !== 0) throw new Error(`exec loop failed: ${res.stderr}`);
    const fields = res.stdout.trim().split(/\s+/).map(shellTime);
    if (fields.length !== 4 || fields.some(Number.isNaN)) throw new Error(`unexpected times output: ${res.stdout}`);
    times.push(fields.reduce((a, b) => a + b, 0));
  }
  return times.sort((a, b) => a - b)[1]!;
}

async function boot(dir: string): Promise<RunningController> {
  const config = loadConfig(
    { http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir: dir, database: `sqlite:${join(dir, "vigil.db")}`, logLevel: "warn", insecureGrpc: true, insecureHttp: true },
    process.env,
  );
  return startController(config, { logger: createLogger("error") });
}

type Source = "ebpf" | "audit" | "proc";

interface Result {
  source: Source;
  detail: string;
  captured: number;
  perExecPct: number;
  idleCpuPct: number;
  /** Agent and children, averaged over the idle window (bytes). */
  family: Mem;
  /** The agent process alone. */
  agent: Mem;
  /** Each child by name (the eBPF helper, journalctl…). */
  children: Record<string, Mem>;
  /** The agent's own VmRSS at the end of the idle window (bytes). */
  idleVmRss: number;
  /** The agent's CPU (its own and its children's) per exec during the exec loops (µs). */
  busyUsPerExec: number;
  /** The agent's own VmRSS once the exec loops' events are all counted (bytes). */
  busyVmRss: number;
}

/** Extra V8 flags for an experiment (none by default: the agent sets its own heap tuning, agent/src/heap-tuning.ts). */
const NODE_OPTIONS = values["node-options"] ?? "";
/** What the installed systemd unit sets for the agent (scripts/install-agent.sh): the agent is measured as it runs there. */
const UNIT_ENV = agentUnitEnvironment();

async function countCaptured(ctl: RunningController, key: string, marker: string): Promise<number> {
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const url: string = `${ctl.httpUrl}/api/v1/events?type=process&q=${encodeURIComponent(marker)}&limit=1000${cursor ? `&cursor=${cursor}` : ""}`;
    const body = (await (await fetch(url, { headers: { authorization: `Bearer ${key}` } })).json()) as { items: { process: { commandLine: string } }[]; nextCursor: string | null };
    // START and EXIT carry the same command line: each run counts once.
    for (const e of body.items) if (e.process.commandLine.startsWith(`/bin/true ${marker} `)) seen.add(e.process.commandLine);
    cursor = body.nextCursor;
  } while (cursor);
  return seen.size;
}

async function measure(source: Source, baseMs: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), `vigil-bench-sensor-${source}-`));
  const auditd = source === "audit" ? new PrivateAuditd(join(dir, "auditd")) : undefined;
  await auditd?.start();
  const ctl = await boot(join(dir, "ctl"));
  const { key } = await ctl.security.apiKeys.create("admin", "bench", "bench");
  const binary = BINARY ?? join(ROOT, "dist/vigil-agent");
  let agent: ChildProcess | undefined;
  try {
    dropFromPageCache(binary);
    agent = spawn(binary, ["run", "--controller", `127.0.0.1:${ctl.grpcPort}`, "--state-dir", join(dir, "agent"), "--log-level", "warn"], {
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        ...UNIT_ENV,
        ...(NODE_OPTIONS ? { NODE_OPTIONS } : {}),
        VIGIL_KERNEL_SENSOR: source,
        ...(auditd ? { VIGIL_AUDIT_SOCKET: auditd.socket, VIGIL_AUDIT_LOG: auditd.log } : {}),
      },
    });
    let detail = "";
    for (let i = 0; i < 300 && !detail; i++) {
      await sleep(100);
      const items = (await (await fetch(`${ctl.httpUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
        items: { online: boolean; status?: { sensors?: { name: string; detail: string }[] } }[];
      };
      detail = items.items.find((a) => a.online)?.status?.sensors?.find((s) => s.name === "process")?.detail ?? "";
    }
    if (!detail) throw new Error("the agent never reported its sensors");
    console.log(`${source}: process sensor says "${detail.slice(0, 120)}"`);
    await sleep(WARMUP_S * 1000);
    const pids = family(agent.pid!);
    const c0 = pids.reduce((n, p) => n + cpuTicks(p), 0);
    const t0 = Date.now();
    let sum = NO_MEM;
    let own = NO_MEM;
    const children: Record<string, Mem> = {};
    let samples = 0;
    while (Date.now() - t0 < IDLE_S * 1000) {
      await sleep(1000);
      const [self, ...kids] = family(agent.pid!);
      const mine = memOf(self!);
      own = addMem(own, mine);
      sum = addMem(sum, mine);
      for (const k of kids) {
        const m = memOf(k);
        sum = addMem(sum, m);
        let name = String(k);
        try {
          name = readFileSync(`/proc/${k}/comm`, "utf8").trim();
        } catch {
          /* gone */
        }
        children[name] = addMem(children[name] ?? NO_MEM, m);
      }
      samples++;
    }
    const avg = (m: Mem): Mem => ({ rss: m.rss / samples, pss: m.pss / samples, anon: m.anon / samples, file: m.file / samples });
    const famMem = avg(sum);
    const agentMem = avg(own);
    for (const k of Object.keys(children)) children[k] = avg(children[k]!);
    console.log(
      `${source}: agent ${(agentMem.rss / MB).toFixed(1)} MB RSS / ${(agentMem.pss / MB).toFixed(1)} MB PSS (anon ${(agentMem.anon / MB).toFixed(1)}, file ${(agentMem.file / MB).toFixed(1)}); ` +
        Object.entries(children)
          .map(([n, m]) => `${n} ${(m.rss / MB).toFixed(1)} RSS / ${(m.pss / MB).toFixed(1)} PSS`)
          .join("; ") +
        `; load average ${loadavg()[0]!.toFixed(1)}`,
    );
    const idleVmRss = vmRss(agent.pid!);
    const tIdleEnd = Date.now();
    const c1 = family(agent.pid!).reduce((n, p) => n + cpuTicks(p), 0);
    const idleCpuPct = (100 * ((c1 - c0) / TICK)) / ((Date.now() - t0) / 1000);

    const marker = `vigil-bench-${source}-${process.pid}`;
    const withMs = execLoopMs(marker, EXECS);
    // The three loops above ran `${marker}-${r}`; count the last one's execs.
    const last = `${marker}-2`;
    let captured = 0;
    for (let i = 0; i < 100; i++) {
      await sleep(300);
      const n = await countCaptured(ctl, key, last);
      if (n === captured && n > 0 && i > 5) break;
      captured = n;
      if (source === "proc" && i > 10) break;
    }
    // The three loops' events are handled by now (the last loop's are all counted): the agent's CPU
    // since the idle window ended, over every exec it was shown, less its idle rate over that time.
    const busyS = (Date.now() - tIdleEnd) / 1000;
    const busyTicks = family(agent.pid!).reduce((n, p) => n + cpuTicks(p), 0) - c1 - (idleCpuPct / 100) * TICK * busyS;
    const busyUsPerExec = (1e6 * Math.max(0, busyTicks / TICK)) / (3 * EXECS);
    const busyVmRss = vmRss(agent.pid!);
    return { source, detail, captured, perExecPct: (100 * (withMs - baseMs)) / baseMs, idleCpuPct, family: famMem, agent: agentMem, children, idleVmRss, busyUsPerExec, busyVmRss };
  } finally {
    agent?.kill("SIGTERM");
    // An agent that already exited (e.g. refused its options) has no exit event left to wait for.
    if (agent && agent.exitCode === null && agent.signalCode === null) await new Promise((r) => agent!.once("exit", r));
    await ctl.stop();
    await auditd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:sensor needs root (the kernel sensor loads BPF programs)");
  if (!existsSync(join(ROOT, "dist/vigil-agent"))) throw new Error("dist/vigil-agent missing: npm run build:agent");
  const baseMs = execLoopMs(`vigil-bench-base-${process.pid}`, EXECS);
  console.log(`baseline: ${EXECS} execs cost ${baseMs.toFixed(0)} ms of CPU (${((1000 * baseMs) / EXECS).toFixed(0)} µs each) with no agent`);
  const results: Result[] = [];
  const noAuditd = auditdUnavailable();
  if (noAuditd) console.log(`audit: skipped (${noAuditd})`);
  for (const source of SOURCES) {
    if (source === "audit" && noAuditd) continue;
    const r = await measure(source, baseMs);
    results.push(r);
    console.log(
      `${source}: captured ${r.captured} of ${EXECS}, +${r.perExecPct.toFixed(1)}% per exec, idle ${r.idleCpuPct.toFixed(2)}% of a core, agent VmRSS ${(r.idleVmRss / MB).toFixed(1)} MB idle / ${(r.busyVmRss / MB).toFixed(1)} MB after the execs, agent CPU ${r.busyUsPerExec.toFixed(0)} µs per exec; with children ${(r.family.rss / MB).toFixed(1)} MB RSS, ${(r.family.pss / MB).toFixed(1)} MB PSS`,
    );
  }
  const label: Record<Source, string> = {
    ebpf: "eBPF (sched_process_exec, kernel_sensor: auto)",
    audit: "auditd exec records (kernel_sensor: audit, af_unix dispatcher)",
    proc: "/proc polling (kernel_sensor: proc)",
  };
  const mb = (n: number) => `${(n / MB).toFixed(1)} MB`;
  const md = [
    "## Process visibility by source",
    "",
    `\`npm run bench:sensor\` (${machine()}): the SEA agent with its default sensors against a real controller; ${EXECS} runs of \`/bin/true <marker> i\` from one shell, counted by command line in the controller's events.`,
    `Per-exec cost: the loop's CPU time (shell and children, user + system) against ${baseMs.toFixed(0)} ms with no agent running (median of 3); agent CPU per exec: what the agent and its children spent handling the ${3 * EXECS} execs of the three loops, less their idle rate. Idle: the agent's own VmRSS (the target) after ${WARMUP_S + IDLE_S} s; CPU, RSS and PSS of the agent plus its child processes (the eBPF helper, journalctl for the auth sensor) averaged over ${IDLE_S} s after a ${WARMUP_S} s warm-up. Each agent starts with the environment of the systemd unit install-agent.sh writes (${
      Object.entries(UNIT_ENV)
        .map(([k, v]) => `\`${k}=${v}\``)
        .join(", ") || "none"
    }) and from a binary dropped from the page cache (as after a reboot, not as left by the build that just wrote it: see "Where the agent's memory is" below). The audit row runs a private auditd of the bench's own; auditd's own CPU and memory are not counted. "Idle" is the agent with no workload of the bench's: on a host where other work runs, every exec of that work is an event the agent handles, so idle CPU there is the cost of watching it (load average ${loadavg()[0]!.toFixed(1)} at the end of this run).`,
    "",
    "| source | execs captured | extra CPU per exec | agent CPU per exec | idle CPU (one core) | agent VmRSS idle | agent VmRSS after the execs | with children: idle RSS | idle PSS |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...results.map(
      (r) =>
        `| ${label[r.source]} | ${r.captured} of ${EXECS} (${((100 * r.captured) / EXECS).toFixed(1)}%) | ${r.perExecPct >= 0 ? "+" : ""}${r.perExecPct.toFixed(1)}% | ${r.busyUsPerExec.toFixed(0)} µs | ${r.idleCpuPct.toFixed(2)}% | ${mb(r.idleVmRss)} | ${mb(r.busyVmRss)} | ${mb(r.family.rss)} | ${mb(r.family.pss)} |`,
    ),
    "",
    "Where the memory is (PSS, idle):",
    "",
    "| source | agent: heap and other anonymous | agent: Node runtime and bundle (file-backed) | children |",
    "| --- | ---: | ---: | --- |",
    ...results.map(
      (r) =>
        `| ${r.source} | ${mb(r.agent.anon)} | ${mb(r.agent.file)} | ${
          Object.entries(r.children)
            .map(([n, m]) => `${n} ${mb(m.pss)} (RSS ${mb(m.rss)})`)
            .join(", ") || "none"
        } |`,
    ),
    "",
    "The < 60 MB target is read on the agent's own VmRSS at idle. With children, RSS adds each process's resident pages, so a page two of them map (the helper's ring buffer, shared libraries) counts twice; PSS splits it between them.",
  ].join("\n");
  if (!BINARY) writeBenchSection("sensor", md);
  const e = results[0]!;
  console.log(
    `sensor: ${e.source} captured ${e.captured} of ${EXECS} execs, +${e.perExecPct.toFixed(1)}% CPU per exec, agent ${e.idleCpuPct.toFixed(2)}% of a core, ${(e.idleVmRss / MB).toFixed(1)} MB RSS`,
  );
}

void main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e);
    process.exit(1);
  },
);
