/**
 * Agent footprint: runs the real agent (SEA binary if built, else the bundle)
 * with its default sensors against a real controller, waits out the warm-up
 * (file baseline hashing), then samples CPU time and RSS from /proc.
 *
 *   npm run bench:footprint -- [--warmup 30] [--seconds 120]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { machine, ROOT, writeBenchSection } from "./lib/report";

const { values } = parseArgs({ options: { warmup: { type: "string", default: "30" }, seconds: { type: "string", default: "120" } } });
const WARMUP = Number(values.warmup);
const SECONDS = Number(values.seconds);
const TICK = 100; // USER_HZ on Linux

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "vigil-footprint-"));
  const ctl = spawn(
    process.execPath,
    [join(ROOT, "controller/bin/vigil-controller.js"), "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--data-dir", join(dir, "ctl"), "--log-level", "warn"],
    { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, VIGIL_INSECURE_GRPC: "1" } },
  );
  const port = await new Promise<number>((res) => {
    let b = "";
    ctl.stdout!.on("data", (d: Buffer) => {
      b += d.toString();
      const m = /grpc=(\d+)/.exec(b);
      if (m) res(Number(m[1]));
    });
  });
  const binary = join(ROOT, "dist/vigil-agent");
  const useBinary = existsSync(binary);
  const cmd = useBinary ? binary : process.execPath;
  const args = [...(useBinary ? [] : [join(ROOT, "dist/vigil-agent.cjs")]), "run", "--controller", `127.0.0.1:${port}`, "--state-dir", join(dir, "agent"), "--log-level", "warn"];
  const agent = spawn(cmd, args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, VIGIL_INSECURE_GRPC: "1" } });
  const pid = agent.pid!;
  console.log(`agent pid ${pid} (${useBinary ? "SEA binary" : "bundle"}), default sensors and watch paths; warm-up ${WARMUP} s, measuring ${SECONDS} s`);
  await sleep(WARMUP * 1000);
  const t0 = Date.now();
  const c0 = cpuTicks(pid);
  const rss: number[] = [];
  while (Date.now() - t0 < SECONDS * 1000) {
    await sleep(1000);
    rss.push(rssBytes(pid));
  }
  const cpuSeconds = (cpuTicks(pid) - c0) / TICK;
  const wall = (Date.now() - t0) / 1000;
  const cpuPct = (100 * cpuSeconds) / wall;
  const maxRss = Math.max(...rss) / 1024 / 1024;
  const avgRss = rss.reduce((a, b) => a + b, 0) / rss.length / 1024 / 1024;
  agent.kill("SIGTERM");
  ctl.kill("SIGTERM");
  await Promise.all([new Promise((r) => agent.once("exit", r)), new Promise((r) => ctl.once("exit", r))]);
  rmSync(dir, { recursive: true, force: true });
  const verdict = cpuPct < 2 && maxRss < 80 ? "within" : "OUTSIDE";
  writeBenchSection(
    "footprint",
    [
      "## Agent footprint",
      "",
      `\`npm run bench:footprint\` — the ${useBinary ? "SEA binary `dist/vigil-agent`" : "bundle"} as root with all default sensors (process 1 s, network 2 s, file integrity on the default paths, auth log, audit log, system log; here the audit log is quiet and there is no system log, so those followers only poll), connected to a local controller; ${WARMUP} s warm-up, then ${SECONDS} s measured from /proc. Target: < 2% of one core and < 80 MB RSS. ${machine()}.`,
      "",
      "| CPU (% of one core) | RSS avg | RSS max | verdict |",
      "|---|---|---|---|",
      `| ${cpuPct.toFixed(2)}% | ${avgRss.toFixed(1)} MB | ${maxRss.toFixed(1)} MB | ${verdict} target |`,
    ].join("\n"),
  );
  console.log(`footprint: cpu ${cpuPct.toFixed(2)}% of one core, rss avg ${avgRss.toFixed(1)} MB, max ${maxRss.toFixed(1)} MB (${verdict} target)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
