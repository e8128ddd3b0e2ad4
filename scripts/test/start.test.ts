import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * `npm start`'s launcher (scripts/start.mjs, run after the build check) with the built controller and
 * agent: the banner must be the last thing at start-up, after the agent is running, and not buried
 * under Nest's route table (which is at debug level now).
 */
describe("npm start", () => {
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), "vigil-start-"));
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGINT");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints the banner (API, console, key file, curl) last, after the agent is up, with no route table", async () => {
    const [http, grpc] = [await freePort(), await freePort()];
    const authLog = join(dir, "auth.log");
    writeFileSync(authLog, "");
    child = spawn(process.execPath, ["scripts/start.mjs"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        VIGIL_DATA_DIR: join(dir, "data"),
        VIGIL_HTTP_ADDR: `127.0.0.1:${http}`,
        VIGIL_GRPC_ADDR: `127.0.0.1:${grpc}`,
        // The agent watches a scratch dir with /proc polling: no eBPF, nothing of this machine's.
        VIGIL_KERNEL_SENSOR: "proc",
        VIGIL_WATCH: dir,
        VIGIL_AUTH_LOG: authLog,
        VIGIL_AUDIT_LOG: join(dir, "audit.log"),
        VIGIL_SYSTEM_LOG: join(dir, "syslog"),
      },
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const deadline = Date.now() + 90_000;
    while (!out.includes("  Stop:     Ctrl-C")) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no banner:\n${out}`);
      await new Promise((r) => setTimeout(r, 50)); // polling for the banner, not a fixed wait
    }
    const lines = out.split("\n");
    const banner = lines.findIndex((l) => l === "Vigil is running.");
    const agentUp = lines.findIndex((l) => /^\[agent\] vigil-agent running /.test(l));
    const ready = lines.findIndex((l) => /^\[controller\] vigil-controller ready /.test(l));
    expect(ready, out).toBeGreaterThanOrEqual(0);
    expect(agentUp, out).toBeGreaterThan(ready);
    expect(banner, out).toBeGreaterThan(agentUp);
    const text = lines.slice(banner).join("\n");
    expect(text).toContain(`API:      https://127.0.0.1:${http}/api/v1`);
    expect(text).toContain(`Console:  https://127.0.0.1:${http}/console/`);
    expect(text).toContain(join(dir, "data", "admin-api-key"));
    expect(text).toMatch(/Try: +curl -s --cacert /);
    // Nest's route table and module list are debug-level now: none of it at start.
    expect(out).not.toMatch(/RouterExplorer|RoutesResolver|InstanceLoader|Mapped \{/);
    expect(out).not.toMatch(/Setting the TLS ServerName to an IP address/);
  }, 120_000);
});
