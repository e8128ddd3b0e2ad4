import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { feedCsv, maxLoopBlock, stixBundle } from "../support/ioc-feeds";

/**
 * Issue 10, class 7: a 19.5 MB CSV import held the controller's event loop for 14 s. Imports now
 * parse and write in slices. The 50 ms target is measured by `npm run bench:import`; this test
 * asserts a bound loose enough for a loaded CI machine, which the old code missed by 50x. The
 * bound applies to the time the loop was held while this process ran (maxBusyMs): on a shared
 * machine, wall-clock gaps also count time the OS gave to other processes (printed as well).
 */
const BOUND_MS = 250;

describe("large IOC imports never hold the controller's event loop", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController();
  });
  afterAll(async () => ctl?.dispose());

  // The body is encoded before the measurement starts: the client shares this process, the cost is not the controller's.
  const post = async (body: Buffer, type: string, query: string) => {
    const res = await fetch(`${ctl.httpUrl}/api/v1/iocs/import?${query}`, { method: "POST", headers: { authorization: `Bearer ${ctl.adminKey}`, "content-type": type }, body });
    return { status: res.status, body: (await res.json()) as { imported: number; errors: unknown[]; indicators?: number } };
  };

  it("a 19.5 MB feed CSV: every row stored, healthz answers throughout, no block over the bound", { timeout: 180_000 }, async () => {
    const text = feedCsv(19.5e6);
    const rows = text.split("\n").length - 2;
    const csv = Buffer.from(text);
    let healthz = 0;
    const { result, maxBlockMs, maxBusyMs, p99Ms } = await maxLoopBlock(async () => {
      const probe = setInterval(() => void fetch(`${ctl.httpUrl}/api/v1/healthz`).then(() => healthz++), 200);
      try {
        return await post(csv, "text/csv", "source=big-csv");
      } finally {
        clearInterval(probe);
      }
    });
    console.log(
      `19.5 MB CSV (${rows} rows): imported ${result.body.imported}; event loop max block ${maxBusyMs.toFixed(1)} ms busy (${maxBlockMs.toFixed(1)} ms wall), p99 ${p99Ms.toFixed(1)} ms; ${healthz} healthz answers during the import`,
    );
    expect(result.status).toBe(201);
    expect(result.body).toMatchObject({ imported: rows, errors: [] });
    expect(healthz).toBeGreaterThan(3);
    expect(maxBusyMs).toBeLessThan(BOUND_MS);
    const page = await ctl.get("/api/v1/iocs?source=big-csv&limit=1");
    expect(page.body.items[0]).toMatchObject({ kind: "ip", source: "big-csv" });
  });

  it("a 20 MB STIX bundle posted as application/json is parsed object by object, no block over the bound", { timeout: 180_000 }, async () => {
    const bundle = Buffer.from(stixBundle(20e6));
    const { result, maxBlockMs, maxBusyMs } = await maxLoopBlock(() => post(bundle, "application/json", "source=big-stix"));
    console.log(`20 MB STIX bundle: ${result.body.indicators} indicators, imported ${result.body.imported}; event loop max block ${maxBusyMs.toFixed(1)} ms busy (${maxBlockMs.toFixed(1)} ms wall)`);
    expect(result.status).toBe(201);
    expect(result.body.imported).toBe(result.body.indicators);
    expect(result.body.imported).toBeGreaterThan(50_000);
    expect(maxBusyMs).toBeLessThan(BOUND_MS);
  });
});
