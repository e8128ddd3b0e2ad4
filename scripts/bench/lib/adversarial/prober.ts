import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";

/*
 * The probe runs in its own thread so that whatever the bench does on its main
 * thread (building a 20 MB body, parsing a response) never inflates what it
 * measures. Each probe is a fresh connection to GET /api/v1/healthz; a probe in
 * flight when the window closes is waited for, so a stall is never cut off.
 */
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const mod = require(workerData.url.startsWith("https") ? "node:https" : "node:http");
let on = false, samples = [], loop = Promise.resolve();
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
async function run() {
  while (on) {
    samples.push(await once());
    await new Promise((r) => setTimeout(r, workerData.everyMs));
  }
}
parentPort.on("message", async (m) => {
  if (m === "start") { samples = []; on = true; loop = run(); }
  else if (m === "stop") { on = false; await loop; parentPort.postMessage(samples); }
  else if (m === "exit") process.exit(0);
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
  return p([...samples].sort((a, b) => a - b), 99);
}

export function max(samples: number[]): number {
  return samples.reduce((a, b) => Math.max(a, b), 0);
}
