/*
 * Footprint of the process, network and file sensors running together with
 * their defaults in one Node process. Not a test (it takes a minute); run:
 *   npx esbuild agent/test/sensors/process/footprint.measure.ts --bundle --platform=node --outfile=/tmp/vigil-footprint.js \
 *     && node /tmp/vigil-footprint.js [seconds=60] [--compare-si]
 * Bundled first so the numbers are not inflated by a TypeScript loader.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileHasher } from "../../../src/platform/linux";
import { FileSensor } from "../../../src/sensors/file";
import { NetworkSensor } from "../../../src/sensors/network";
import { ProcessSensor } from "../../../src/sensors/process";
import type { EventBody, EventSink } from "../../../src/sensors/sensor";

class CountingSink implements EventSink {
  readonly counts: Record<string, number> = {};
  emit(body: EventBody): void {
    this.counts[body.$case] = (this.counts[body.$case] ?? 0) + 1;
  }
}

const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

async function compareSystemInformation(): Promise<void> {
  const si = await import("systeminformation");
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const list = await si.processes();
  const wall = performance.now() - t0;
  console.log(`systeminformation.processes(): ${list.list.length} processes, ${wall.toFixed(0)} ms wall, ${cpuMs(process.cpuUsage(c0)).toFixed(0)} ms CPU in-process (plus its ps child)`);
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 60);
  const state = mkdtempSync(join(tmpdir(), "vigil-footprint-"));
  const hasher = new FileHasher();
  const sink = new CountingSink();
  const proc = new ProcessSensor({ hasher });
  const net = new NetworkSensor();
  const file = new FileSensor({ stateDir: state, hasher });

  const rss0 = process.memoryUsage().rss;
  const startCpu = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all([proc.start(sink), net.start(sink), file.start(sink)]);
  console.log(
    `start: ${(performance.now() - t0).toFixed(0)} ms wall, ${cpuMs(process.cpuUsage(startCpu)).toFixed(0)} ms CPU; ` +
      `${file.stats().files} files baselined (${mb(hasher.stats().bytesHashed)} MB hashed), ${proc.stats().tracked} processes, ${net.stats().open} sockets`,
  );
  console.log(`file roots: ${file.stats().roots.join(" ")}; absent: ${file.stats().absent.join(" ") || "-"}`);

  // Steady state starts after the baseline; give the GC one settle period first.
  await new Promise((r) => setTimeout(r, 2000));
  const c1 = process.cpuUsage();
  const w1 = performance.now();
  let maxRss = 0;
  let cycleMax = 0;
  const sampler = setInterval(() => {
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    cycleMax = Math.max(cycleMax, proc.stats().lastCycleMs);
  }, 250);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(sampler);
  const used = cpuMs(process.cpuUsage(c1));
  const wall = performance.now() - w1;
  const m = process.memoryUsage();
  console.log(`steady ${(wall / 1000).toFixed(0)} s: CPU ${used.toFixed(0)} ms = ${((100 * used) / wall).toFixed(2)}% of one core`);
  console.log(`RSS now ${mb(m.rss)} MB (max ${mb(maxRss)} MB, before sensors ${mb(rss0)} MB), heap used ${mb(m.heapUsed)} MB`);
  console.log(
    `process snapshot: last ${proc.stats().lastCycleMs.toFixed(2)} ms, max ${cycleMax.toFixed(2)} ms; network cycle ${net.stats().lastCycleMs.toFixed(2)} ms, ` +
      `socket-owner searches ${net.stats().ownerSearches} visiting ${net.stats().pidsVisited} pids (last ${net.stats().lastOwnerSearchMs.toFixed(2)} ms)`,
  );
  console.log(`events: ${JSON.stringify(sink.counts)}; hasher: ${JSON.stringify(hasher.stats())}`);
  for (const s of [proc, net, file]) console.log(`health ${JSON.stringify(s.health())}`);

  await Promise.all([proc.stop(), net.stop(), file.stop()]);
  rmSync(state, { recursive: true, force: true });
  if (process.argv.includes("--compare-si")) await compareSystemInformation();
}

void main();
