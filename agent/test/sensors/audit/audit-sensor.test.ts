import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuditEvent } from "@vigil/proto";
import { compileRules, DetectionEngine, toSigmaEvent } from "@vigil/detection";
import { AuditSensor, DEFAULT_AUDIT_LOG } from "../../../src/sensors/audit";
import type { EventBody, EventSink } from "../../../src/sensors/sensor";
import { waitFor } from "../auth/helpers";
import { auditdLock, markOwnDaemon } from "../../helpers/private-auditd";

/**
 * The real audit subsystem: auditd (Debian's package, installed by .ci/run) writes
 * /var/log/audit/audit.log, a rule of this test's own (one executable, one key)
 * makes the kernel log its execs, and the sensor follows the log. Only this
 * test's rule is removed afterwards; the host's rules are never touched.
 */
class Collect implements EventSink {
  readonly records: { audit: AuditEvent; timeMs: number }[] = [];
  emit(body: EventBody, timeMs: number): void {
    if (body.$case === "audit") this.records.push({ audit: body.audit, timeMs });
  }
}

const auditEnabled = (): string => /^enabled (\d+)/m.exec(execFileSync("auditctl", ["-s"], { encoding: "utf8" }))?.[1] ?? "0";
const auditdPid = (): number => Number(/^pid (\d+)/m.exec(execFileSync("auditctl", ["-s"], { encoding: "utf8" }))?.[1] ?? 0);

describe("audit sensor on the real auditd", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "vigil-audit-"));
  const probe = path.join(dir, `vigil-probe-${process.pid}`);
  const key = `vigil-test-${process.pid}`;
  const rule = ["always,exit", "-F", "arch=b64", "-S", "execve", "-F", `exe=${probe}`, "-k", key];
  let daemon: ChildProcess | undefined;
  let sensor: AuditSensor | undefined;
  let unlock: (() => void) | undefined;
  let enabledBefore = "0";

  beforeAll(async () => {
    // One audit daemon at a time: the audit exec source's tests start a private one.
    unlock = await auditdLock();
    // auditd switches kernel auditing on; the machine gets back the state it had.
    enabledBefore = auditEnabled();
    copyFileSync("/bin/echo", probe);
    if (auditdPid() === 0) {
      // No auditd yet (a fresh CI machine): run one in the foreground for this test.
      markOwnDaemon();
      daemon = spawn("auditd", ["-n"], { stdio: "ignore" });
      await waitFor(() => auditdPid() !== 0 && existsSync(DEFAULT_AUDIT_LOG), "auditd to start", 15_000);
    }
    execFileSync("auditctl", ["-a", ...rule]);
  });

  afterAll(async () => {
    await sensor?.stop();
    spawnSync("auditctl", ["-d", ...rule]);
    if (daemon) {
      daemon.kill("SIGTERM");
      await new Promise((r) => daemon!.once("exit", r));
      if (enabledBefore !== "2") spawnSync("auditctl", ["-e", enabledBefore]);
    }
    unlock?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every exec of the watched binary arrives as EXECVE/SYSCALL records with decoded arguments, and auditd-style Sigma rules match them", async () => {
    const sink = new Collect();
    sensor = new AuditSensor({ stateDir: path.join(dir, "state"), pollMs: 50 });
    await sensor.start(sink);
    // A short-lived process: gone long before any process snapshot could see it.
    execFileSync(probe, ["hello world", 'quo"te']);
    // One event per exec: the SYSCALL record leads, EXECVE, CWD, PATH and PROCTITLE ride along.
    const exec = () => sink.records.find((r) => r.audit.recordType === "SYSCALL" && r.audit.fields.exe === probe);
    await waitFor(() => exec() !== undefined, "the audit event of the probe", 15_000);
    const ev = exec()!;
    expect(ev.audit.fields).toMatchObject({ exe: probe, key, syscall: "59" });
    const execve = ev.audit.records.find((r) => r.recordType === "EXECVE");
    expect(execve?.fields).toMatchObject({ a0: probe, argc: "3", a1: "hello world", a2: 'quo"te' });
    const types = ev.audit.records.map((r) => r.recordType);
    expect(types).toEqual(expect.arrayContaining(["EXECVE", "CWD", "PATH", "PROCTITLE"]));
    expect(types).not.toContain("EOE");
    // Cost: auditd wrote this many records for the exec (EOE included); the sensor made one event.
    const perExec = 1 + ev.audit.records.length + 1;
    console.log(`audit: ${perExec} records for one exec -> 1 event`);
    expect(sink.records.filter((r) => r.audit.serial === ev.audit.serial)).toHaveLength(1);
    expect(Math.abs(ev.timeMs - Date.now())).toBeLessThan(60_000);
    expect(sensor.health()).toMatchObject({ name: "audit", running: true, errors: 0, detail: expect.stringMatching(/^reading .*: the host's auditd records/) });

    const rules = `title: Probe Args
id: 6a0f3f8e-1b2c-4d5e-8f90-a1b2c3d4e5f6
logsource:
    product: linux
    service: auditd
detection:
    selection:
        type: 'EXECVE'
        a1: 'hello world'
    condition: selection
level: high
---
title: Probe Key
id: 7b1f4f9e-2c3d-4e6f-9a01-b2c3d4e5f6a7
logsource:
    product: linux
    service: auditd
detection:
    selection:
        type: 'SYSCALL'
        key: '${key}'
        exe|endswith: '/vigil-probe-${process.pid}'
    condition: selection
level: medium
`;
    const { ruleset, errors } = compileRules([{ name: "auditd.yml", text: rules }]);
    expect(errors).toEqual([]);
    const engine = new DetectionEngine(ruleset);
    const titles = sink.records.flatMap((r, i) =>
      engine.process(toSigmaEvent({ seq: i + 1, eventTimeMs: r.timeMs, body: { $case: "audit", audit: r.audit } }, { agentId: "a", hostname: "h" })!).map((m) => m.rule.title),
    );
    expect(titles).toContain("Probe Args");
    expect(titles).toContain("Probe Key");
  });

  it("without auditd's log the sensor waits and says why, counting no error", async () => {
    const s = new AuditSensor({ path: path.join(dir, "no-such-audit.log"), stateDir: path.join(dir, "state2"), pollMs: 20 });
    await s.start(new Collect());
    await waitFor(() => /no audit log/.test(s.health().detail), "a health detail");
    expect(s.health()).toMatchObject({ running: true, errors: 0, detail: expect.stringMatching(/no audit log .* waiting/) });
    await s.stop();
  });
});
