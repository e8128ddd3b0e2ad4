import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { ProcessAction, type ProcessEvent } from "@vigil/proto";
import { ProcessSensor } from "../../../src/sensors/process";
import { RecordingSink, waitFor } from "./recorder";
import { cgroup2Root, TestCgroups } from "../../helpers/test-cgroup";

const cgroupHost = cgroup2Root();

function processEvents(sink: RecordingSink, action: ProcessAction, pid: number): ProcessEvent | undefined {
  for (const e of sink.events) {
    if (e.body.$case === "process" && e.body.process.action === action && e.body.process.pid === pid) return e.body.process;
  }
  return undefined;
}

describe("ProcessSensor against the real /proc", () => {
  let dir: string;
  let binary: string;
  let binarySha: string;
  const children: ChildProcess[] = [];
  let sensor: ProcessSensor | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "vigil-proc-"));
    // A private copy of sleep under a unique name: its path and hash are ours to check.
    binary = join(dir, `vigil-sleep-${randomUUID().slice(0, 8)}`);
    copyFileSync("/bin/sleep", binary);
    binarySha = createHash("sha256").update(readFileSync(binary)).digest("hex");
    return () => rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    await sensor?.stop();
    for (const c of children.splice(0)) c.kill("SIGKILL");
  });

  it("reports a child with a unique argv as START with its details, then EXIT", async () => {
    const sink = new RecordingSink();
    sensor = new ProcessSensor({ intervalMs: 100 });
    await sensor.start(sink);
    // The binary's path is unique per run; sleep sums its arguments, so "30 0" is a valid argv.
    const child = spawn(binary, ["30", "0"], { cwd: dir });
    children.push(child);
    const pid = child.pid!;
    const started = await waitFor("START of the child", () => processEvents(sink, ProcessAction.PROCESS_ACTION_START, pid));

    expect(started.ppid).toBe(process.pid);
    expect(started.exe).toBe(binary);
    expect(started.commandLine).toBe(`${binary} 30 0`);
    expect(started.cwd).toBe(realpathSync(dir));
    expect(started.uid).toBe(userInfo().uid);
    expect(started.user).toBe(userInfo().username);
    expect(started.sha256).toBe(binarySha);
    expect(started.exeDeleted).toBe(false);
    expect(started.name).toBe(binary.split("/").pop()!.slice(0, 15));
    expect(started.parentExe).toBe(realpathSync(process.execPath));
    expect(started.parentCommandLine).toContain("node");
    expect(Math.abs(started.startTimeMs - Date.now())).toBeLessThan(10_000);

    child.kill("SIGTERM");
    const exited = await waitFor("EXIT of the child", () => processEvents(sink, ProcessAction.PROCESS_ACTION_EXIT, pid));
    expect(exited.startTimeMs).toBe(started.startTimeMs);
    expect(exited.exe).toBe(binary);
    const order = sink.events.filter((e) => e.body.$case === "process" && e.body.process.pid === pid);
    expect(order.map((e) => (e.body.$case === "process" ? e.body.process.action : -1))).toEqual([ProcessAction.PROCESS_ACTION_START, ProcessAction.PROCESS_ACTION_EXIT]);
  });

  it("redacts Vigil enrollment tokens and API keys from recorded command lines (its own and its children's parent line)", async () => {
    const token = `vet_${"0123456789abcdef"}_${"A".repeat(20)}-_${"b".repeat(21)}`;
    const apiKey = `vk_${"fedcba9876543210"}_${"Z9".repeat(21)}x`;
    const sink = new RecordingSink();
    sensor = new ProcessSensor({ intervalMs: 100 });
    await sensor.start(sink);
    // sh stays alive (sleep is not its last command, so it is not exec'd away) with the secrets in its argv.
    const child = spawn("sh", ["-c", `${binary} 30; true`, "sh", "--token", token, `--api-key=${apiKey}`]);
    children.push(child);
    const shPid = child.pid!;
    const sh = await waitFor("START of sh", () => processEvents(sink, ProcessAction.PROCESS_ACTION_START, shPid));
    const sleeper = await waitFor("START of its sleep", () =>
      sink.events.map((e) => (e.body.$case === "process" ? e.body.process : undefined)).find((p) => p?.ppid === shPid && p.exe === binary && p.action === ProcessAction.PROCESS_ACTION_START),
    );
    for (const line of [sh.commandLine, sleeper.parentCommandLine]) {
      expect(line).toContain("--token vet_0123456789abcdef_[REDACTED]");
      expect(line).toContain("--api-key=vk_fedcba9876543210_[REDACTED]");
      expect(line).not.toContain("AAAA");
      expect(line).not.toContain("Z9Z9");
    }
    process.kill(sleeper.pid, "SIGKILL");
  });

  it("flags an executable deleted after exec and still hashes it through /proc/pid/exe", async () => {
    const doomed = join(dir, `vigil-doomed-${randomUUID().slice(0, 8)}`);
    copyFileSync("/bin/sleep", doomed);
    const child = spawn(doomed, ["30"]);
    children.push(child);
    await waitFor("the child to exec", () => (child.pid && readFileSync(`/proc/${child.pid}/cmdline`, "utf8").includes(doomed) ? true : undefined));
    unlinkSync(doomed);

    const sink = new RecordingSink();
    sensor = new ProcessSensor({ intervalMs: 100, emitInitial: true });
    await sensor.start(sink);
    const started = await waitFor("START of the child", () => processEvents(sink, ProcessAction.PROCESS_ACTION_START, child.pid!));
    expect(started.exe).toBe(doomed);
    expect(started.exeDeleted).toBe(true);
    expect(started.sha256).toBe(binarySha);
  });

  it("treats the first snapshot as a baseline: no START for processes already running", async () => {
    const child = spawn(binary, ["30"]);
    children.push(child);
    await waitFor("the child to exec", () => (child.pid && readFileSync(`/proc/${child.pid}/cmdline`, "utf8").includes(binary) ? true : undefined));
    const sink = new RecordingSink();
    sensor = new ProcessSensor({ intervalMs: 50 });
    await sensor.start(sink);
    // A later process proves cycles ran; the pre-existing child must not show up.
    const later = spawn(binary, ["30"]);
    children.push(later);
    await waitFor("START of the later child", () => processEvents(sink, ProcessAction.PROCESS_ACTION_START, later.pid!));
    expect(processEvents(sink, ProcessAction.PROCESS_ACTION_START, child.pid!)).toBeUndefined();
  });
  it.skipIf("skip" in cgroupHost)("names the container a process runs in, from /proc/<pid>/cgroup; none for one outside", async () => {
    const cgroups = new TestCgroups((cgroupHost as { root: string }).root);
    const id = "c0de".repeat(16);
    const path = `/vigil-proc-test-${process.pid}.slice/crio-${id}.scope`;
    const scope = cgroups.make(path);
    const sink = new RecordingSink();
    sensor = new ProcessSensor({ intervalMs: 100 });
    await sensor.start(sink);
    // The shell moves itself into the scope, then becomes the program (exec), which stays alive.
    const inside = spawn("sh", ["-c", `echo $$ > ${scope}/cgroup.procs && exec ${binary} 30 1`]);
    const outside = spawn(binary, ["30", "2"]);
    try {
      const startOf = (child: ChildProcess) =>
        waitFor("START", () =>
          sink.events
            .map((e) => (e.body.$case === "process" ? e.body.process : undefined))
            .find((p) => p !== undefined && p.pid === child.pid && p.exe === binary && p.action === ProcessAction.PROCESS_ACTION_START),
        );
      expect(await startOf(inside)).toMatchObject({ containerId: id, containerRuntime: "cri-o", cgroupPath: path, systemdUnit: `crio-${id}.scope` });
      expect(await startOf(outside)).toMatchObject({ containerId: "", containerRuntime: "" });
    } finally {
      for (const c of [inside, outside]) {
        c.kill("SIGKILL");
        if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once("exit", r));
      }
      await cgroups.remove();
    }
  });
});
