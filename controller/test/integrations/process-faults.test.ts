import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logging/logger";
import { recordProcessFault } from "../../src/logging/process-faults";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { sample } from "./support";

const root = join(__dirname, "..", "..", "..");
const SECRET = `vet_00112233445566ff_${"ab".repeat(16)}`;

describe("controller process faults are logged (redacted) and counted", () => {
  let ctl: TestController;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const sink = new Writable({
      write: (chunk, _enc, cb) => {
        for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    ctl = await startTestController({ logger: createLogger("info", sink) });
  });
  afterAll(async () => ctl?.dispose());

  it("a real unhandled rejection in a controller process is logged without the secret it carried and the process keeps running", () => {
    // A separate process: vitest itself fails a run on an unhandled rejection in its own process.
    const script = `
      const { createLogger } = require(${JSON.stringify(join(root, "controller/dist/logging/logger.js"))});
      const f = require(${JSON.stringify(join(root, "controller/dist/logging/process-faults.js"))});
      f.installProcessFaultHandlers(createLogger("info"));
      Promise.reject(new Error("enroll with --token ${SECRET} failed"));
      setTimeout(() => { process.stdout.write("\\nCOUNTS " + JSON.stringify(f.processFaultCounts()) + "\\n"); }, 50);
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const countsLine = r.stdout.split("\n").find((l) => l.startsWith("COUNTS "));
    expect(countsLine, r.stdout).toBeDefined();
    const counts = JSON.parse(countsLine!.slice("COUNTS ".length)) as Record<string, number>;
    expect(counts.unhandled_rejection).toBe(1);
    const log = r.stdout.split("\n").filter((l) => l.includes("unhandled promise rejection"));
    expect(log).toHaveLength(1);
    expect(log[0]).toContain("[REDACTED]");
    expect(log[0]).not.toContain(SECRET.slice(22));
  });

  it("/metrics counts faults by kind", async () => {
    const scrape = async () => (await request(ctl, "GET", "/metrics")).body as string;
    const before = sample(await scrape(), "vigil_process_faults_total", { kind: "background_failure" }) ?? 0;
    recordProcessFault("background_failure", new Error(`bookkeeping failed for ${SECRET}`));
    expect(sample(await scrape(), "vigil_process_faults_total", { kind: "background_failure" })).toBe(before + 1);
    const line = lines.find((l) => l.msg === "background task failed");
    expect(String(line?.error)).not.toContain(SECRET.slice(22));
  });
});
