import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import type { Event } from "@vigil/proto";
import { EventPipeline } from "../../src/pipeline/event-pipeline";
import type { EventBody } from "../../src/sensors/sensor";
import type { DiskSpool } from "../../src/spool";
import { createLog } from "../../src/util/log";
import { open, tempDir } from "../spool/helpers";

const body = (i: number): EventBody => ({ $case: "log", log: { log: "syslog", program: "t", pid: i, hostname: "h", message: `m${i}`, raw: "" } });

describe("EventPipeline batching", () => {
  const dirs: string[] = [];
  const spools: DiskSpool[] = [];
  afterAll(() => {
    for (const s of spools) s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  const make = (opts?: { maxBatch: number; maxDelayMs: number }) => {
    const dir = tempDir();
    dirs.push(dir);
    const spool = open(dir);
    spools.push(spool);
    const p = new EventPipeline(
      spool,
      createLog("error", () => {}),
      opts,
    );
    const seen: Event[] = [];
    p.onEvent((e) => seen.push(e));
    return { p, seen };
  };

  it("hands one turn's events to the spool and the listeners at the end of that turn, in one batch, not after a timer", async () => {
    const { p, seen } = make();
    const appends: number[] = [];
    const spy = p as unknown as { flush(): void };
    const flush = spy.flush.bind(p);
    spy.flush = () => {
      appends.push(seen.length);
      flush();
    };
    for (let i = 0; i < 5; i++) p.emit(body(i), 1000 + i);
    expect(seen).toHaveLength(0); // not synchronously inside emit
    await new Promise((r) => setImmediate(r));
    expect(seen.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(appends).toEqual([0]); // one flush for the whole turn
  });

  it("still batches over a window when one is configured", async () => {
    const { p, seen } = make({ maxBatch: 256, maxDelayMs: 30 });
    // The window is measured from the emit: a loaded machine may take long to reach the next line.
    const t0 = Date.now();
    p.emit(body(1), 1);
    await new Promise((r) => setImmediate(r));
    expect(seen).toHaveLength(0);
    while (seen.length === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 5)); // polling for the timer's flush
    expect(seen).toHaveLength(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it("flushes at once when a batch is full", () => {
    const { p, seen } = make({ maxBatch: 3, maxDelayMs: 0 });
    for (let i = 0; i < 3; i++) p.emit(body(i), i);
    expect(seen).toHaveLength(3);
  });
});
