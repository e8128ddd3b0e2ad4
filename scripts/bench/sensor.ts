/**
 * Process visibility per source: the real SEA agent (default sensors) against a real controller,
 * once with the kernel feed (eBPF) and once forced to /proc polling. For each: how many of N
 * short execs (/bin/true with a marker) reach the controller with their argv, what the agent
 * costs per exec (the exec loop's wall time against a run with no agent), and what it costs at
 * idle (CPU share and RSS of the agent plus its helper).
 *
 *   npm run build:agent && npm run bench:sensor -- [--execs 2000] [--idle 20] [--warmup 10]
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type RunningController, startController } from "../../controller/dist/app/bootstrap";
import { loadConfig } from "../../controller/dist/config/config";
import { createLogger } from "../../controller/dist/logging/logger";
import { machine, ROOT, writeBenchSection } from "./lib/report";

const { values } = parseArgs({ options: { execs: { type: "string", default: "2000" }, idle: { type: "string", default: "20" }, warmup: { type: "string", default: "10" } } });
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

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

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
  const config = loadConfig({ http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir: dir, database: `sqlite:${join(dir, "vigil.db")}`, logLevel: "warn", insecureGrpc: true, insecureHttp: true }, process.env);
  return startController(config, { logger: createLogger("error") });
}

interface Result {
  source: string;
  detail: string;
  captured: number;
  perExecPct: number;
  idleCpuPct: number;
  rssMb: number;
}

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

async function measure(source: "ebpf" | "proc", baseMs: number): Promise<Result> {
  const dir = mkdtempSync(join(tmpdir(), `vigil-bench-sensor-${source}-`));
  const ctl = await boot(join(dir, "ctl"));
  const { key } = await ctl.security.apiKeys.create("admin", "bench", "bench");
  const binary = join(ROOT, "dist/vigil-agent");
  let agent: ChildProcess | undefined;
  try {
    agent = spawn(binary, ["run", "--controller", `127.0.0.1:${ctl.grpcPort}`, "--state-dir", join(dir, "agent"), "--log-level", "warn"], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, VIGIL_KERNEL_SENSOR: source },
    });
    let detail = "";
    for (let i = 0; i < 300 && !detail; i++) {
      await sleep(100);
      const items = (await (await fetch(`${ctl.httpUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${key}` } })).json()) as { items: { online: boolean; status?: { sensors?: { name: string; detail: string }[] } }[] };
      detail = items.items.find((a) => a.online)?.status?.sensors?.find((s) => s.name === "process")?.detail ?? "";
    }
    if (!detail) throw new Error("the agent never reported its sensors");
    console.log(`${source}: process sensor says "${detail.slice(0, 120)}"`);
    await sleep(WARMUP_S * 1000);
    const pids = family(agent.pid!);
    const c0 = pids.reduce((n, p) => n + cpuTicks(p), 0);
    const t0 = Date.now();
    const rss: number[] = [];
    const own: number[] = [];
    while (Date.now() - t0 < IDLE_S * 1000) {
      await sleep(1000);
      rss.push(family(agent.pid!).reduce((n, p) => n + rssBytes(p), 0));
      own.push(rssBytes(agent.pid!));
    }
    console.log(`${source}: agent alone ${(own.reduce((a, b) => a + b, 0) / own.length / 1048576).toFixed(1)} MB RSS; load average ${loadavg()[0]!.toFixed(1)}`);
    const idleCpuPct = (100 * ((family(agent.pid!).reduce((n, p) => n + cpuTicks(p), 0) - c0) / TICK)) / ((Date.now() - t0) / 1000);
    const rssMb = rss.reduce((a, b) => a + b, 0) / rss.length / 1024 / 1024;

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
    return { source, detail, captured, perExecPct: (100 * (withMs - baseMs)) / baseMs, idleCpuPct, rssMb };
  } finally {
    agent?.kill("SIGTERM");
    if (agent) await new Promise((r) => agent!.once("exit", r));
    await ctl.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:sensor needs root (the kernel sensor loads BPF programs)");
  if (!existsSync(join(ROOT, "dist/vigil-agent"))) throw new Error("dist/vigil-agent missing: npm run build:agent");
  const baseMs = execLoopMs(`vigil-bench-base-${process.pid}`, EXECS);
  console.log(`baseline: ${EXECS} execs cost ${baseMs.toFixed(0)} ms of CPU (${((1000 * baseMs) / EXECS).toFixed(0)} µs each) with no agent`);
  const results: Result[] = [];
  for (const source of ["ebpf", "proc"] as const) {
    const r = await measure(source, baseMs);
    results.push(r);
    console.log(`${source}: captured ${r.captured} of ${EXECS}, +${r.perExecPct.toFixed(1)}% per exec, idle ${r.idleCpuPct.toFixed(2)}% of a core, ${r.rssMb.toFixed(1)} MB RSS`);
  }
  const md = [
    "## Process visibility by source",
    "",
    `\`npm run bench:sensor\` (${machine()}): the SEA agent with its default sensors against a real controller; ${EXECS} runs of \`/bin/true <marker> i\` from one shell, counted by command line in the controller's events.`,
    `Per-exec cost: the loop's CPU time (shell and children, user + system) against ${baseMs.toFixed(0)} ms with no agent running (median of 3). Idle: agent plus its helper process, ${IDLE_S} s after a ${WARMUP_S} s warm-up.`,
    "",
    "| source | execs captured | extra CPU per exec | idle CPU (one core) | idle RSS |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...results.map((r) => `| ${r.source === "ebpf" ? "eBPF (sched_process_exec, kernel_sensor: auto)" : "/proc polling (kernel_sensor: proc)"} | ${r.captured} of ${EXECS} (${((100 * r.captured) / EXECS).toFixed(1)}%) | ${r.perExecPct >= 0 ? "+" : ""}${r.perExecPct.toFixed(1)}% | ${r.idleCpuPct.toFixed(2)}% | ${r.rssMb.toFixed(1)} MB |`),
    "",
    "auditd as a source is not in the table: the audit sensor reads auditd's own records when the host's audit rules log execs (see the README).",
  ].join("\n");
  writeBenchSection("sensor", md);
  const e = results[0]!;
  console.log(`sensor: ${e.source} captured ${e.captured} of ${EXECS} execs, +${e.perExecPct.toFixed(1)}% CPU per exec, agent ${e.idleCpuPct.toFixed(2)}% of a core, ${e.rssMb.toFixed(0)} MB RSS`);
}

void main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(e);
    process.exit(1);
  },
);
