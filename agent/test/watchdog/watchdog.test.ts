import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { LOOP_WINDOW_MS, loadLedger, recordBreach, restartDelayMs } from "../../src/watchdog/restart-ledger";
import { Watchdog, type WatchdogReason } from "../../src/watchdog/watchdog";

const MiB = 1024 * 1024;

function driven(o: { maxRssMb?: number; maxCpu?: number; windowMs?: number }) {
  let now = 0;
  let rss = 50 * MiB;
  let cpu = 0;
  const breaches: Array<[WatchdogReason, string]> = [];
  const w = new Watchdog({
    maxRssBytes: (o.maxRssMb ?? 0) * MiB,
    maxCpuPercent: o.maxCpu ?? 0,
    windowMs: o.windowMs ?? 10_000,
    onBreach: (r, d) => breaches.push([r, d]),
    rss: () => rss,
    cpuMicros: () => cpu,
    now: () => now,
  });
  /** Advances time by `ms` in sample steps, with `cpuShare` of a core used meanwhile. */
  const run = (ms: number, cpuShare: number, rssMb?: number) => {
    for (let t = 0; t < ms; t += w.sampleMs) {
      now += w.sampleMs;
      cpu += w.sampleMs * 1000 * cpuShare;
      if (rssMb !== undefined) rss = rssMb * MiB;
      w.sample();
    }
  };
  return { w, run, breaches };
}

describe("watchdog ceilings", () => {
  it("memory above the ceiling for the whole window is a breach; a spike shorter than the window is not", () => {
    const d = driven({ maxRssMb: 100 });
    d.w.sample();
    d.run(5_000, 0.01, 150); // half a window above: not yet
    d.run(3_000, 0.01, 60); // back under: the run starts over
    d.run(9_000, 0.01, 150);
    expect(d.breaches).toEqual([]);
    d.run(3_000, 0.01, 150);
    expect(d.breaches).toHaveLength(1);
    expect(d.breaches[0]![0]).toBe("memory");
    expect(d.breaches[0]![1]).toMatch(/above 100 MiB .* \(now 150 MiB\)/);
    d.run(20_000, 0.01, 150);
    expect(d.breaches).toHaveLength(1); // once: the runtime is already stopping
  });

  it("CPU is averaged over the window: bursts pass, a sustained share above the ceiling is a breach", () => {
    const d = driven({ maxCpu: 50 });
    d.w.sample();
    d.run(2_000, 1.0); // a burst at a full core
    d.run(8_000, 0.1);
    d.run(10_000, 0.3);
    expect(d.breaches).toEqual([]);
    d.run(12_000, 0.8);
    expect(d.breaches.map((b) => b[0])).toEqual(["cpu"]);
    // It fires as soon as the window's average crosses the ceiling.
    expect(Number(/CPU (\d+)% of a core over/.exec(d.breaches[0]![1])?.[1])).toBeGreaterThan(50);
  });

  it("0 turns a check off", () => {
    const d = driven({});
    expect(d.w.enabled).toBe(false);
    d.w.sample();
    d.run(60_000, 2, 10_000);
    expect(d.breaches).toEqual([]);
  });
});

describe("restart ledger", () => {
  it("counts breaches by reason across processes and backs off a restart loop", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-ledger-"));
    try {
      expect(loadLedger(dir)).toEqual({ restarts: {}, consecutive: 0, lastBreachMs: 0 });
      const t0 = 1_000_000_000;
      recordBreach(dir, "memory", "rss", t0);
      expect(restartDelayMs(loadLedger(dir), t0 + 2_000)).toBe(0); // the first restart is immediate
      recordBreach(dir, "memory", "rss", t0 + 5_000);
      const l = recordBreach(dir, "cpu", "busy", t0 + 10_000);
      expect(l).toMatchObject({ restarts: { memory: 2, cpu: 1 }, consecutive: 3, lastReason: "cpu: busy" });
      const delays = [0, 0.5, 1].map((r) => restartDelayMs(l, t0 + 12_000, () => r));
      expect(delays[0]).toBe(1_000);
      expect(delays[2]).toBe(4_000);
      // Long after: no hold, and the next breach starts the loop count over.
      expect(restartDelayMs(l, t0 + 10_000 + LOOP_WINDOW_MS)).toBe(0);
      expect(recordBreach(dir, "memory", "rss", t0 + 20_000 + LOOP_WINDOW_MS).consecutive).toBe(1);
      fs.writeFileSync(path.join(dir, "watchdog.json"), "{not json");
      expect(loadLedger(dir).restarts).toEqual({});
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
