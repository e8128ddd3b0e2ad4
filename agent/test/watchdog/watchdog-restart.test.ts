import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentMessage, AgentStatus } from "@vigil/proto";
import { afterAll, describe, expect, it } from "vitest";
import { closedPort, serveAgentStreams, until } from "../helpers/loopback";
import { AGENT_BUNDLE } from "../response/ns-agent";

/**
 * The real agent bundle in a real process, with a tiny memory ceiling and the test hook that
 * allocates on purpose: the watchdog stops it with its distinct exit code and counts the reason
 * in the state dir; started again (as systemd's Restart= would), it reports the restart to the
 * controller in AgentStatus, and every event spooled before the restart arrives.
 * The controller is a real gRPC server on loopback that welcomes, acks and records.
 */
class RecordingController {
  readonly numbers = new Set<number>();
  readonly statuses: AgentStatus[] = [];
  port = 0;
  stop: () => void = () => undefined;

  async start(): Promise<void> {
    const served = await serveAgentStreams((call) => {
      call.on("data", (m: AgentMessage) => {
        const b = m.msg;
        if (b?.$case === "hello") call.write({ msg: { $case: "welcome", welcome: { ackedSeq: 0, commandPublicKey: Buffer.alloc(32, 9), controllerVersion: "watchdog-test" } } });
        if (b?.$case === "heartbeat" && b.heartbeat.status) this.statuses.push(b.heartbeat.status);
        if (b?.$case === "events") {
          for (const e of b.events.events) if (e.body?.$case === "agent" && e.body.agent.attributes.n) this.numbers.add(Number(e.body.agent.attributes.n));
          const last = b.events.events[b.events.events.length - 1]?.seq;
          if (last) call.write({ msg: { $case: "ack", ack: { seq: last } } });
        }
      });
    });
    this.port = served.port;
    this.stop = served.stop;
  }
}

describe("agent watchdog (real process)", () => {
  const parent = mkdtempSync(join(tmpdir(), "vigil-watchdog-"));
  const stateDir = join(parent, "state");
  const procs: ChildProcess[] = [];
  let ctl: RecordingController | undefined;
  afterAll(async () => {
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null) {
        const exited = new Promise((r) => p.once("exit", r));
        p.kill("SIGTERM");
        await exited;
      }
    }
    ctl?.stop();
    rmSync(parent, { recursive: true, force: true });
  });

  function agent(controllerPort: number, env: Record<string, string>): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
    if (!existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing: run \`npm run build\``);
    const config = join(parent, "agent.yaml");
    writeFileSync(
      config,
      JSON.stringify({
        sensors: { process: false, network: false, file: false, auth: false, audit: false, syslog: false },
        kernel_sensor: "proc",
        synthetic_rate: 500,
        synthetic_count: 2500,
        heartbeat_ms: 200,
        backoff_max_ms: 300,
        spool_fsync: "never",
        watchdog_max_rss_mb: 160,
        watchdog_max_cpu_percent: 0,
        watchdog_window_ms: 1000,
      }),
    );
    const child = spawn(process.execPath, [AGENT_BUNDLE, "run", "--state-dir", stateDir, "--controller", `127.0.0.1:${controllerPort}`, "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, VIGIL_LOG_LEVEL: "info", ...env },
    });
    procs.push(child);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    return { child, output: () => out, exit };
  }

  it("a memory breach restarts the agent with a counted reason, reported in status, and loses no spooled event", async () => {
    // Phase 1: no controller listening (events stay in the spool), memory growing on purpose.
    const deadPort = await closedPort();
    const first = agent(deadPort, { VIGIL_TEST_ALLOCATE_MB_PER_S: "60" });
    const code = await Promise.race([first.exit, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 60_000))]);
    expect(code, first.output()).toBe(75);
    expect(first.output()).toContain("watchdog: ceiling exceeded; the agent exits to be restarted");
    const ledger = JSON.parse(readFileSync(join(stateDir, "watchdog.json"), "utf8")) as { restarts: Record<string, number>; lastReason: string };
    expect(ledger.restarts).toEqual({ memory: 1 });
    expect(ledger.lastReason).toMatch(/^memory: resident memory above 160 MiB/);
    const spooled = (JSON.parse(readFileSync(join(stateDir, "synthetic", "state.json"), "utf8")) as { next: number }).next - 1;
    expect(spooled).toBeGreaterThan(0);

    // Phase 2: started again (the service manager's part), now with a controller.
    ctl = new RecordingController();
    await ctl.start();
    const c = ctl;
    const second = agent(c.port, {});
    await until(
      "every number at the controller",
      () => c.numbers.size === 2500,
      90_000,
      () => `${c.numbers.size} numbers\n${second.output()}`,
    );
    expect([...c.numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: 2500 }, (_, i) => i + 1));
    const reported = await until("a status that reports the restart", () => c.statuses.find((s) => (s.watchdogRestarts.memory ?? 0) > 0), 30_000);
    expect(reported.watchdogRestarts).toEqual({ memory: 1 });
    expect(reported.pipelineLost).toEqual({});
    expect(second.child.exitCode).toBe(null);
  }, 180_000);
});
