import { readFileSync } from "node:fs";
import { PerformanceObserver, monitorEventLoopDelay } from "node:perf_hooks";

/** An abuse.ch Feodo/ThreatFox-style CSV export (header in the last '#' line) of about `bytes`. */
export function feedCsv(bytes: number): string {
  const out = ["# abuse.ch style export, generated", '# "first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"'];
  let size = out.join("\n").length;
  for (let i = 0; size < bytes; i++) {
    const line = `"2024-01-01 00:00:00","${10 + ((i >> 16) & 127)}.${(i >> 8) & 255}.${i & 255}.${(i * 7 + 1) & 255}","443","online","2024-01-02","Cobalt Strike"`;
    out.push(line);
    size += line.length + 1;
  }
  return out.join("\n");
}

/** A STIX 2.1 bundle of IPv4 indicators of about `bytes`. */
export function stixBundle(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const o = JSON.stringify({
      type: "indicator",
      spec_version: "2.1",
      id: `indicator--00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
      created: "2024-01-01T00:00:00Z",
      modified: "2024-01-01T00:00:00Z",
      valid_from: "2024-01-01T00:00:00Z",
      pattern_type: "stix",
      pattern: `[ipv4-addr:value = '${100 + ((i >> 16) & 127)}.${(i >> 8) & 255}.${i & 255}.9']`,
      indicator_types: ["malicious-activity"],
    });
    parts.push(o);
    size += o.length + 1;
  }
  return `{"type":"bundle","id":"bundle--11111111-1111-4111-8111-111111111111","objects":[${parts.join(",")}]}`;
}

export interface LoopBlock<T> {
  result: T;
  /** Longest gap between two 1 ms ticks, wall clock: what a request waiting on this process saw. */
  maxBlockMs: number;
  /**
   * The same gap counted only while the main thread ran (its own CPU time in the gap, from
   * /proc/self/task/<pid>/stat in 10 ms ticks, so +10 ms; capped by the gap): what the work itself
   * held. On a machine shared with other busy processes the wall-clock gap also holds time the OS
   * gave to them, and the process's CPU time that of its collector threads; this holds neither.
   */
  maxBusyMs: number;
  p99Ms: number;
  /** Longest single garbage-collection pause seen meanwhile (part of some block). */
  maxGcMs: number;
}

/** Samples the event loop with perf_hooks' histogram and a 1 ms interval while `work` runs. */
export async function maxLoopBlock<T>(work: () => Promise<T>): Promise<LoopBlock<T>> {
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  let maxGcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) maxGcMs = Math.max(maxGcMs, e.duration);
  });
  gc.observe({ entryTypes: ["gc"] });
  let last = performance.now();
  let lastCpu = mainThreadCpuMs();
  let worst = 0;
  let worstBusy = 0;
  const tick = () => {
    const t = performance.now();
    const cpu = mainThreadCpuMs();
    const gap = t - last - 1;
    worst = Math.max(worst, gap);
    worstBusy = Math.max(worstBusy, Math.min(gap, cpu - lastCpu + TICK_MS));
    last = t;
    lastCpu = cpu;
  };
  const timer = setInterval(tick, 1);
  try {
    const result = await work();
    tick();
    return { result, maxBlockMs: Math.max(worst, h.max / 1e6 - 5), maxBusyMs: worstBusy, p99Ms: h.percentile(99) / 1e6, maxGcMs };
  } finally {
    gc.disconnect();
    clearInterval(timer);
    h.disable();
  }
}

/** Linux clock ticks are 10 ms (USER_HZ 100). */
const TICK_MS = 10;

/** CPU time of this process's main thread (the event loop), not of its other threads. */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime (fields 14 and 15)
}
