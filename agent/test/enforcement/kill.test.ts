import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { killProcessHandler } from "../../src/enforcement/kill-handler";
import { killProcess } from "../../src/enforcement/process-kill";
import { processCmdline, readProcStat, snapshot, startTimeMs } from "../../src/platform/linux/processes";
import { waitFor } from "../helpers/netns";

const spawned: ChildProcess[] = [];
// Each test tree runs in its own process group, so cleanup reaches every member
// (including ones a failed test did not kill) without relying on the code under test.
afterEach(() => {
  for (const c of spawned.splice(0)) {
    try {
      process.kill(-(c.pid as number), "SIGKILL");
    } catch {
      /* group already gone */
    }
  }
});

/** A real process tree: bash → [sleep, sleep, bash → sleep]. Resolves once all 5 exist. */
async function spawnTree(script = "sleep 1000 & sleep 1000 & (sleep 1000 & wait) & wait"): Promise<{ root: number; ticks: number; members: () => number[] }> {
  const c = spawn("bash", ["-c", script], { stdio: "ignore", detached: true });
  spawned.push(c);
  const root = c.pid as number;
  const members = (): number[] => {
    const all = snapshot();
    const out = [root];
    for (let i = 0; i < out.length; i++) for (const s of all.values()) if (s.ppid === out[i] && s.state !== "Z") out.push(s.pid);
    return out.filter((p) => all.has(p) && all.get(p)?.state !== "Z");
  };
  return { root, ticks: readProcStat(root)?.startTicks as number, members };
}

const alive = (pid: number): boolean => {
  const s = readProcStat(pid);
  return s !== undefined && s.state !== "Z";
};

describe("kill_process on real processes", () => {
  const handler = killProcessHandler({ protectedPids: [process.pid] });
  const ctx = { commandId: "k", local: false };

  it("kills a whole process tree, matched by start time in epoch ms", async () => {
    const t = await spawnTree();
    expect(await waitFor(() => t.members().length === 5)).toBe(true);
    const members = t.members();
    const stat = readProcStat(t.root);
    if (!stat) throw new Error("tree root vanished");
    const out = await handler.run(handler.validate({ pid: t.root, startTimeMs: startTimeMs(stat), tree: true }), "enforce", ctx);
    expect(out.ok).toBe(true);
    expect((out.output.killed as { pid: number }[]).map((k) => k.pid).sort()).toEqual([...members].sort());
    for (const pid of members) expect(alive(pid), `pid ${pid}`).toBe(false);
  });

  it("wins against a parent that keeps respawning children", async () => {
    // A unique sleep argument marks this tree's children wherever they get reparented.
    const marker = `1000.${process.pid}${Date.now() % 100000}`;
    const t = await spawnTree(`while true; do sleep ${marker} & done`);
    expect(await waitFor(() => t.members().length > 20)).toBe(true);
    const out = await killProcess({ pid: t.root, startTicks: t.ticks, tree: true }, { protectedPids: [process.pid] });
    expect(out.ok).toBe(true);
    // Nothing of the tree is left, not even a child forked during the kill.
    const left = [...snapshot().values()].filter((s) => s.state !== "Z" && processCmdline(s.pid)?.includes(marker));
    expect(left).toEqual([]);
    expect(alive(t.root)).toBe(false);
  });

  it("never hits a process whose start time does not match (recycled pid)", async () => {
    const t = await spawnTree("sleep 1000");
    const stat = readProcStat(t.root);
    if (!stat) throw new Error("vanished");
    for (const params of [
      { pid: t.root, startTicks: t.ticks - 1 },
      { pid: t.root, startTimeMs: startTimeMs(stat) - 60_000 },
    ]) {
      const out = await handler.run(handler.validate(params), "enforce", ctx);
      expect(out.ok).toBe(false);
      expect(out.reason).toMatch(/start time mismatch/);
    }
    expect(alive(t.root)).toBe(true);
  });

  it("refuses pid 1, the agent itself, and a tree that contains the agent, signalling nothing", async () => {
    // pid 1 is refused by the shared contract before anything else; a pid without its start time too.
    expect(() => handler.validate({ pid: 1, startTicks: 1 })).toThrow(/^pid: must be an integer in \[2, /);
    expect(() => handler.validate({ pid: 2 })).toThrow(/startTimeMs: is required/);
    const init = readProcStat(1);
    if (init) expect(await handler.run({ pid: 1, startTicks: init.startTicks, tree: false }, "enforce", ctx)).toMatchObject({ ok: false, reason: "refusing to kill pid 1" });
    const me = readProcStat(process.pid);
    const self = await handler.run({ pid: process.pid, startTicks: me?.startTicks, tree: false }, "enforce", ctx);
    expect(self.reason).toMatch(/protected pid/);

    // Pretend a grandchild of the tree is the agent: the whole tree must stay untouched and running.
    const t = await spawnTree();
    // Settled first: a member just forked can be briefly runnable (R), which says nothing about signals.
    expect(await waitFor(() => t.members().length === 5 && t.members().every((p) => readProcStat(p)?.state === "S"))).toBe(true);
    const members = t.members();
    const ticksBefore = members.map((p) => readProcStat(p)?.startTicks);
    const fakeAgent = members[members.length - 1] as number;
    const out = await killProcess({ pid: t.root, startTicks: t.ticks, tree: true }, { protectedPids: [fakeAgent] });
    expect(out).toMatchObject({ ok: false });
    // Untouched means the same processes, neither stopped (T/t, a SIGSTOP freeze) nor dead (Z/X).
    expect(members.map((p) => readProcStat(p)?.startTicks)).toEqual(ticksBefore);
    for (const pid of members) expect(["T", "t", "Z", "X", undefined], `pid ${pid}`).not.toContain(readProcStat(pid)?.state);
  });

  it("reports a vanished pid and malformed params clearly", async () => {
    const out = await killProcess({ pid: 4_000_000, startTicks: 1, tree: false }, { protectedPids: [] });
    expect(out).toEqual({ ok: false, reason: "no process 4000000" });
    expect(() => handler.validate({ pid: -5, startTicks: 1 })).toThrow(/^pid: must be an integer/);
    expect(() => handler.validate({ pid: "12", startTicks: 1 })).toThrow(/^pid/);
    expect(() => handler.validate({ pid: 12, startTicks: 1, signal: 9 })).toThrow(/signal: unknown parameter/);
  });

  it("monitor mode reports and kills nothing", async () => {
    const t = await spawnTree("sleep 1000");
    // bash execs into sleep; wait for it so comm is stable.
    expect(await waitFor(() => readProcStat(t.root)?.comm === "sleep")).toBe(true);
    const out = await handler.run({ pid: t.root, startTicks: t.ticks, tree: true }, "monitor", ctx);
    expect(out.output).toMatchObject({ mode: "monitor", present: true, comm: "sleep" });
    expect(alive(t.root)).toBe(true);
  });
});
