import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

/** Real processes: vitest itself fails a run on an unhandled rejection or exception in its own process. */
const faults = join(__dirname, "..", "..", "dist", "util", "process-faults.js");
const logMod = join(__dirname, "..", "..", "dist", "util", "log.js");
const SECRET = `vet_00112233445566ff_${"cd".repeat(16)}`;

function run(body: string): { status: number | null; stdout: string; stderr: string } {
  const script = `
    const f = require(${JSON.stringify(faults)});
    const { createLog } = require(${JSON.stringify(logMod)});
    f.installProcessFaultHandlers(createLog("info"));
    ${body}
  `;
  return spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 20_000 });
}

describe("agent process faults", () => {
  it("an unhandled rejection is logged with Vigil secrets redacted, counted, and the agent keeps running", () => {
    const r = run(`
      Promise.reject(new Error("enroll --token ${SECRET} failed"));
      Promise.reject("plain reason");
      setTimeout(() => process.stdout.write(JSON.stringify(f.processFaults)), 50);
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ count: 2, unhandledRejection: 2, uncaughtException: 0 });
    const lines = r.stderr
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; error: string });
    expect(lines.map((l) => l.msg)).toEqual(["unhandled promise rejection", "unhandled promise rejection"]);
    expect(lines[0]!.error).toContain("vet_00112233445566ff_[REDACTED]");
    expect(r.stderr).not.toContain(SECRET.slice(22));
  });

  it("an uncaught exception is logged and the agent exits with EX_SOFTWARE (70) for the service manager to restart", () => {
    const r = run(`setTimeout(() => { throw new Error("boom ${SECRET}"); }, 10);`);
    expect(r.status).toBe(70);
    const line = JSON.parse(r.stderr.split("\n").filter(Boolean)[0]!) as { msg: string; error: string; exitCode: number };
    expect(line).toMatchObject({ msg: "uncaught exception; exiting so the service manager restarts the agent", exitCode: 70 });
    expect(line.error).not.toContain(SECRET.slice(22));
  });
});
