import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";

/*
 * The probe runs in its own thread so that whatever the bench does on its main
 * thread (building a 20 MB body, parsing a response) never inflates what it
 * measures. It is open-loop: a probe (a fresh connection to GET
 * /api/v1/healthz) starts every `everyMs` whether or not the previous ones
 * have answered, so a 2 s stall shows as ~100 slow samples, not one (no
 * coordinated omission); at most 200 are in flight. Probes in flight when the
 * window closes are waited for.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const mod = require(workerData.url.startsWith("https") ? "node:https" : "node:http");
let samples = [], inflight = new Set(), timer;
function once() {
  return new Promise((res) => {
    const t0 = performance.now();
    const r = mod.get(workerData.url + "/api/v1/healthz", { agent: false, rejectUnauthorized: false, timeout: 120000 }, (resp) => {
      resp.resume();
      resp.on("end", () => res(performance.now() - t0));
      resp.on("error", () => res(performance.now() - t0));
    });
    r.on("timeout", () => r.destroy(new Error("timeout")));
    r.on("error", () => res(performance.now() - t0));
  });
}
function fire() {
  if (inflight.size >= 200) return;
  const p = once().then((ms) => { samples.push(ms); inflight.delete(p); });
  inflight.add(p);
}
parentPort.on("message", async (m) => {
  if (m === "start") { samples = []; fire(); timer = setInterval(fire, workerData.everyMs); }
  else if (m === "stop") { clearInterval(timer); await Promise.all([...inflight]); parentPort.postMessage(samples); }
});
`;

export interface HealthProbe {
  start(): void;
  /** Latencies (ms) of every probe since start(). */
  stop(): Promise<number[]>;
  close(): Promise<void>;
}

export function healthProbe(baseUrl: string, everyMs = 20): HealthProbe {
  const w = new Worker(WORKER, { eval: true, workerData: { url: baseUrl, everyMs } });
  return {
    start: () => w.postMessage("start"),
    stop: () =>
      new Promise((resolve) => {
        w.once("message", (m: number[]) => resolve(m));
        w.postMessage("stop");
      }),
    close: async () => {
      await w.terminate();
    },
  };
}

/** Resident memory of a process from /proc, in bytes (0 once it is gone). */
export function rssBytes(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples a process's RSS every `everyMs` until stopped; returns the peak. */
export function rssPeak(pid: number | undefined, everyMs = 50): { stop(): number } {
  let peak = rssBytes(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), everyMs);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, rssBytes(pid));
    },
  };
}

export function p(sorted: number[], q: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((q / 100) * sorted.length))]!;
}

export function p99(samples: number[]): number {
  return p(
    [...samples].sort((a, b) => a - b),
    99,
  );
}

export function max(samples: number[]): number {
  return samples.reduce((a, b) => Math.max(a, b), 0);
}
