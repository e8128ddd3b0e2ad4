import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, onTestFinished } from "vitest";
import { readProcStat, snapshot } from "../../src/platform/linux/processes";
import { createRunner } from "../../src/enforcement/runner";
import { terminateSessionHandler } from "../../src/enforcement/session";
import { waitFor } from "../helpers/netns";

const dir = mkdtempSync(join(tmpdir(), "vigil-sess-"));
// The kernel takes comm from the executable's file name, so a copy of bash named
// "sshd" looks to /proc exactly like OpenSSH does. There is no sshd on this machine;
// this fake tree stands in for listener → per-connection sshd → user processes.
const fakeSshd = join(dir, "sshd");
copyFileSync("/bin/bash", fakeSshd);
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
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const live = (pid: number): boolean => {
  const s = readProcStat(pid);
  return s !== undefined && s.state !== "Z";
};
const childrenOf = (pid: number): number[] => [...snapshot().values()].filter((s) => s.ppid === pid && s.state !== "Z").map((s) => s.pid);

async function fakeSshdTree(): Promise<{ listener: number; session: number; userProcs: number[] }> {
  // The listener loops so it outlives its session, as the real daemon does.
  const c = spawn(fakeSshd, ["-c", `${fakeSshd} -c 'sleep 1000 & sleep 1000 & wait' & while :; do sleep 1000; done`], { stdio: "ignore", detached: true });
  spawned.push(c);
  const listener = c.pid as number;
  let session = 0;
  const formed = await waitFor(() => {
    session = childrenOf(listener).find((p) => readProcStat(p)?.comm === "sshd") ?? 0;
    return session !== 0 && readProcStat(session)?.comm === "sshd" && childrenOf(session).length === 2;
  }, 20_000);
  if (!formed) throw new Error(`fake sshd tree under ${listener} did not form within 20 s`);
  return { listener, session, userProcs: childrenOf(session) };
}

describe("terminate_session", () => {
  const handler = terminateSessionHandler({ run: createRunner(), protectedPids: [process.pid] });
  const ctx = { commandId: "s", local: false };

  it("ends an sshd session and its children, leaving the listener running", async () => {
    const t = await fakeSshdTree();
    expect(t.userProcs).toHaveLength(2);
    const out = await handler.run(handler.validate({ sshdPid: t.session }), "enforce", ctx);
    expect(out).toMatchObject({ ok: true, output: { terminated: { sshdPid: t.session } } });
    for (const p of [t.session, ...t.userProcs]) expect(live(p), `pid ${p}`).toBe(false);
    expect(live(t.listener)).toBe(true);
  });

  it("refuses the listener itself and a pid that is not sshd", async () => {
    const t = await fakeSshdTree();
    const listener = await handler.run(handler.validate({ sshdPid: t.listener }), "enforce", ctx);
    expect(listener.reason).toMatch(/sshd listener/);
    const notSshd = await handler.run(handler.validate({ sshdPid: t.userProcs[0] }), "enforce", ctx);
    expect(notSshd.reason).toMatch(/"sleep", not an sshd session/);
    for (const p of [t.listener, t.session, ...t.userProcs]) expect(live(p)).toBe(true);
  });

  it("ends a user's session on a real pseudo-terminal by user + tty", async () => {
    // `script` gives the shell its own pty and session, as a login would.
    const c = spawn("script", ["-qfc", "sleep 1000", "/dev/null"], { stdio: "ignore", detached: true });
    spawned.push(c);
    let sleeper = 0;
    // The sleep is script's grandchild when the -c shell forks instead of exec'ing,
    // so look for it anywhere under script, and allow for a loaded CI machine.
    const started = await waitFor(() => {
      const procs = snapshot();
      const under = (pid: number): boolean => {
        for (let p = procs.get(pid), hops = 0; p && hops < 8; p = procs.get(p.ppid), hops++) if (p.ppid === c.pid) return true;
        return false;
      };
      sleeper = [...procs.values()].find((p) => p.comm === "sleep" && under(p.pid))?.pid ?? 0;
      return sleeper !== 0;
    }, 20_000);
    if (!started) throw new Error(`no sleep appeared under script (pid ${c.pid}) within 20 s`);
    const tty = readlinkSync(`/proc/${sleeper}/fd/0`).replace("/dev/", "");
    expect(tty).toMatch(/^pts\/\d+$/);
    // script put the sleep in a session of its own, so the group cleanup cannot reach it.
    const leftover = sleeper;
    onTestFinished(() => void (live(leftover) && process.kill(leftover, "SIGKILL")));
    const out = await handler.run(handler.validate({ user: "root", tty }), "enforce", ctx);
    expect(out.ok).toBe(true);
    expect(live(sleeper)).toBe(false);
    // Once script has exited the pseudo-terminal may be gone too: either way there is nothing to end.
    const again = await handler.run(handler.validate({ user: "root", tty }), "enforce", ctx);
    expect(again.ok).toBe(false);
    expect([`no session of root on ${tty}`, `no terminal /dev/${tty}`]).toContain(again.reason);
  });

  it("uses loginctl for a session id, and says so when logind is absent", async () => {
    // systemd-logind cannot run in this container, so the runner is a recorder here.
    const calls: string[][] = [];
    const withLogind = terminateSessionHandler({
      run: async (argv) => {
        calls.push([...argv]);
        return { code: 0, stdout: "", stderr: "" };
      },
      protectedPids: [],
    });
    expect(await withLogind.run(withLogind.validate({ sessionId: "c42" }), "enforce", ctx)).toMatchObject({ ok: true });
    expect(calls.at(-1)).toEqual(["loginctl", "terminate-session", "c42"]);

    const noLogind = terminateSessionHandler({ run: async () => ({ code: 1, stdout: "", stderr: "Failed to connect to bus" }), protectedPids: [] });
    const out = await noLogind.run({ by: "logind", sessionId: "c42" }, "enforce", ctx);
    expect(out.reason).toMatch(/systemd-logind not available/);
  });

  it("rejects ambiguous or malformed targets naming the field", () => {
    expect(() => handler.validate({})).toThrow(/exactly one of/);
    expect(() => handler.validate({ sessionId: "1", sshdPid: 5 })).toThrow(/exactly one of/);
    expect(() => handler.validate({ sessionId: "1; reboot" })).toThrow(/^sessionId/);
    expect(() => handler.validate({ user: "root" })).toThrow(/^tty: is required/);
    expect(() => handler.validate({ user: "root", tty: "../../etc/passwd" })).toThrow(/^tty/);
  });
});
