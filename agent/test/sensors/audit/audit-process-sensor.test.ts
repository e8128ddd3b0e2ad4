import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessAction, type ProcessEvent } from "@vigil/proto";
import { AuditProcessSensor } from "../../../src/sensors/audit";
import { PrivateAuditd, auditRules, auditdUnavailable } from "../../helpers/private-auditd";
import { RecordingSink, waitFor } from "../process/recorder";
import { cgroup2Root, TestCgroups } from "../../helpers/test-cgroup";

const cgroupHost = cgroup2Root();

/**
 * The real audit subsystem: a private auditd (config, log and dispatcher socket in a temp dir),
 * the sensor adding its execve rule through auditctl, and real short processes. Needs root and
 * the auditd package; skips with the reason otherwise.
 */
const skipReason = auditdUnavailable();
if (skipReason) console.log(`SKIP audit exec source tests: ${skipReason}`);

const starts = (sink: RecordingSink): ProcessEvent[] =>
  sink.events.flatMap((e) => (e.body.$case === "process" && e.body.process.action === ProcessAction.PROCESS_ACTION_START ? [e.body.process] : []));

async function runLoop(marker: string, n: number, cwd: string): Promise<number> {
  const shell = spawn("sh", ["-c", `i=0; while [ $i -lt ${n} ]; do /bin/true ${marker} "arg with space" $i; i=$((i+1)); done`], { stdio: "ignore", cwd });
  await new Promise((r) => shell.on("exit", r));
  return shell.pid!;
}

describe.skipIf(skipReason !== null)("audit exec source on the real audit subsystem", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-sensor-audit-"));
  const auditd = new PrivateAuditd(join(dir, "auditd"));

  beforeAll(async () => {
    await auditd.start();
  }, 20_000);

  afterAll(async () => {
    await auditd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const feed of ["dispatcher socket", "log"] as const) {
    it(`turns each short exec into ONE process event with argv, cwd and parent (${feed}); removes its rule at stop`, async () => {
      const sink = new RecordingSink();
      const sensor = new AuditProcessSensor({
        stateDir: join(dir, `state-${feed}`),
        socketPath: feed === "log" ? join(dir, "no-such.sock") : auditd.socket,
        logPath: auditd.log,
      });
      await sensor.start(sink);
      try {
        const h = sensor.health();
        expect(h.running, h.detail).toBe(true);
        expect(h.detail).toContain(feed === "log" ? `log ${auditd.log}` : `dispatcher socket ${auditd.socket}`);
        expect(h.detail).toContain("added by Vigil");
        expect(auditRules()).toContain("key=vigil-exec");

        const marker = `vigil-audit-${feed === "log" ? "log" : "sock"}-${process.pid}`;
        const N = 300;
        const shellPid = await runLoop(marker, N, dir);
        const runs = () => starts(sink).filter((p) => p.commandLine.startsWith(`/bin/true ${marker} `));
        await waitFor(`${N} exec events`, () => (new Set(runs().map((p) => p.commandLine)).size >= N ? true : undefined), 30_000).catch(() => undefined);
        const seen = runs();
        expect(new Set(seen.map((p) => p.commandLine)).size).toBe(N);
        // One event per exec: its SYSCALL, EXECVE, CWD, PATH and PROCTITLE records were merged.
        expect(seen.length).toBe(N);
        for (const p of seen.slice(0, 20)) {
          expect(p.exe).toBe("/usr/bin/true");
          expect(p.commandLine).toMatch(new RegExp(`^/bin/true ${marker} arg with space \\d+$`));
          expect(p.ppid).toBe(shellPid);
          expect(p.parentExe).toMatch(/(sh|dash|bash)$/);
          expect(p.parentCommandLine).toContain(marker);
          expect(p.cwd).toBe(dir);
          expect(p.user).toBe("root");
          expect(p.source).toBe("audit");
          expect(p.name).toBe("true");
          expect(p.startTimeMs).toBeGreaterThan(Date.now() - 120_000);
        }
        // The generic audit sensor would drop these (key vigil-exec); none arrive as audit events here.
        expect(sink.events.some((e) => e.body.$case === "audit")).toBe(false);
      } finally {
        await sensor.stop();
      }
      expect(auditRules()).not.toContain("vigil-exec");
      expect(sensor.health().detail).not.toContain("NOT removed");
    }, 60_000);
  }

  it.skipIf("skip" in cgroupHost)(
    "names the container of an exec whose process still lives, from /proc/<pid>/cgroup",
    async () => {
      const cgroups = new TestCgroups((cgroupHost as { root: string }).root);
      const id = "a11d".repeat(16);
      const path = `/vigil-audit-test-${process.pid}.slice/docker-${id}.scope`;
      const scope = cgroups.make(path);
      const sink = new RecordingSink();
      const sensor = new AuditProcessSensor({ stateDir: join(dir, "state-cgroup"), socketPath: auditd.socket, logPath: auditd.log });
      await sensor.start(sink);
      const marker = `vigil-audit-cgroup-${process.pid}`;
      // sleep stays alive in the scope until killed; true may be gone before its records are read.
      const shell = spawn("sh", ["-c", `echo $$ > ${scope}/cgroup.procs && /bin/true ${marker} && exec sleep 30 ${marker}`], { stdio: "ignore" });
      try {
        const sleeper = await waitFor("the sleep in the scope", () => starts(sink).find((p) => p.commandLine === `sleep 30 ${marker}`), 20_000);
        expect(sleeper).toMatchObject({ containerId: id, containerRuntime: "docker", cgroupPath: path });
        // Audit records carry no cgroup: a process gone before /proc is read gets none, never a guess.
        const brief = await waitFor("the true before it", () => starts(sink).find((p) => p.commandLine === `/bin/true ${marker}`));
        expect(["", id]).toContain(brief.containerId);
      } finally {
        shell.kill("SIGKILL");
        if (shell.exitCode === null && shell.signalCode === null) await new Promise((r) => shell.once("exit", r));
        await sensor.stop();
        await cgroups.remove();
      }
    },
    30_000,
  );

  it("says why it cannot run when auditd is not registered", async () => {
    const sensor = new AuditProcessSensor({ stateDir: join(dir, "state-none"), auditctl: async () => "enabled 0\npid 0\n" });
    await sensor.start(new RecordingSink());
    expect(sensor.health().running).toBe(false);
    expect(sensor.health().detail).toBe("audit unavailable: auditd is not running");
    await sensor.stop();
  });
});
