import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../../../controller/test/support/controller";
import { waitFor } from "../../../controller/test/support/wait";
import { AGENT_BUNDLE } from "../response/ns-agent";

/** Every entry below `dir` that group or others can use, with its mode. */
function exposed(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    const st = statSync(p);
    if ((st.mode & 0o077) !== 0) out.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(dir);
  return out;
}

/**
 * The agent's state dir holds its identity, the pinned controller key, the spool (command
 * lines, evidence results) and the replay store: the real agent binary, connected to a real
 * controller, must leave nothing there that another local user can read, and must tighten
 * a state dir an older version or an installer left open.
 */
describe("the real agent keeps its state dir to itself", () => {
  let ctl: TestController;
  let child: ChildProcess | undefined;
  let out = "";
  const parent = mkdtempSync(join(tmpdir(), "vigil-agent-modes-"));
  const stateDir = join(parent, "state");

  beforeAll(async () => {
    if (!existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing: run \`npm run build\``);
    ctl = await startTestController();
    // Left open by a previous install: a loose dir, a loose spool dir, a loose file.
    mkdirSync(join(stateDir, "spool"), { recursive: true });
    chmodSync(stateDir, 0o755);
    chmodSync(join(stateDir, "spool"), 0o755);
    writeFileSync(join(stateDir, "controller-addresses.json"), "[]", { mode: 0o644 });
    chmodSync(join(stateDir, "controller-addresses.json"), 0o644);
    expect(exposed(stateDir)).toHaveLength(3);
    const config = join(parent, "agent.yaml");
    writeFileSync(config, JSON.stringify({ sensors: { process: false, network: false, file: false, auth: false, audit: false, syslog: false }, heartbeat_ms: 500, backoff_max_ms: 500 }));
    child = spawn(process.execPath, [AGENT_BUNDLE, "run", "--state-dir", stateDir, "--controller", `127.0.0.1:${ctl.grpcPort}`, "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await ctl?.dispose();
    rmSync(parent, { recursive: true, force: true });
  });

  it("after connecting, pinning the controller key and spooling: every file 0600-or-less, every dir 0700", async () => {
    const agentId = await waitFor("agent id", () => (existsSync(join(stateDir, "agent-id")) ? readFileSync(join(stateDir, "agent-id"), "utf8").trim() : undefined), 20_000);
    await waitFor(`agent connected\n${out}`, () => ctl.registry.session(agentId) !== undefined, 20_000);
    await waitFor("pinned key and status written", () => existsSync(join(stateDir, "controller-command-key")) && existsSync(join(stateDir, "status.json")), 20_000);
    expect(out).toContain("state dir was readable by others; tightened");
    expect(exposed(stateDir)).toEqual([]);
    expect((statSync(stateDir).mode & 0o777).toString(8)).toBe("700");
    expect(readdirSync(join(stateDir, "spool")).length).toBeGreaterThan(0);
  });
});
