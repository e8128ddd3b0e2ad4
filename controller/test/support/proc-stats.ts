import { readFileSync } from "node:fs";

/** Resident memory of a live process, from /proc (Linux), in bytes; 0 when it is gone. */
export function rssBytes(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples the RSS of some processes every `everyMs` until stopped; returns the peaks. */
export function sampleRss(pids: Record<string, number | undefined>, everyMs = 100): { stop(): Record<string, number> } {
  const peak: Record<string, number> = Object.fromEntries(Object.keys(pids).map((k) => [k, 0]));
  const tick = (): void => {
    for (const [k, pid] of Object.entries(pids)) peak[k] = Math.max(peak[k]!, rssBytes(pid));
  };
  tick();
  const t = setInterval(tick, everyMs);
  return {
    stop() {
      clearInterval(t);
      tick();
      return peak;
    },
  };
}
