import { readFileSync, statSync } from "node:fs";
import { validateCommandParams } from "@vigil/proto";
import { type CommandHandler, failed, monitored, succeeded } from "./handler";
import { type KilledProcess, killProcess } from "./process-kill";
import { processUid, readProcStat, snapshot } from "../platform/linux/processes";
import type { CommandRunner } from "./runner";

/** Exactly one way of naming the session. */
export type SessionTarget = { by: "logind"; sessionId: string } | { by: "sshd"; pid: number; startTicks?: number; startTimeMs?: number } | { by: "tty"; user: string; tty: string };

/** OpenSSH names its per-connection processes sshd, and since 9.8 sshd-session. */
const SSHD_COMMS = new Set(["sshd", "sshd-session"]);

export interface SessionDeps {
  run: CommandRunner;
  protectedPids: readonly number[];
  passwdPath?: string;
}

export function terminateSessionHandler(deps: SessionDeps): CommandHandler<SessionTarget> {
  return {
    type: "terminate_session",
    validate(params) {
      // The contract has checked that exactly one way is given, and user with tty.
      const p = validateCommandParams("terminate_session", params);
      if (p.sessionId !== undefined) return { by: "logind", sessionId: p.sessionId };
      if (p.sshdPid !== undefined) return { by: "sshd", pid: p.sshdPid, startTicks: p.startTicks, startTimeMs: p.startTimeMs };
      return { by: "tty", user: p.user ?? "", tty: p.tty ?? "" };
    },
    async run(t, mode) {
      if (mode === "monitor") return monitored([describe(t)]);
      switch (t.by) {
        case "logind":
          return terminateLogind(deps.run, t.sessionId);
        case "sshd":
          return terminateSshd(t, deps.protectedPids);
        case "tty":
          return terminateTty(t.user, t.tty, deps);
      }
    },
  };
}

function describe(t: SessionTarget): string {
  if (t.by === "logind") return `loginctl terminate-session ${t.sessionId}`;
  if (t.by === "sshd") return `kill sshd session process ${t.pid} and its children`;
  return `kill the processes of ${t.user} on ${t.tty}`;
}

async function terminateLogind(run: CommandRunner, sessionId: string) {
  const probe = await run(["loginctl", "--no-pager", "--no-legend", "list-sessions"], { timeoutMs: 5000 });
  if (probe.code !== 0) return failed(`systemd-logind not available (${probe.stderr.trim().slice(0, 200)}); terminate by sshdPid or user + tty instead`);
  const r = await run(["loginctl", "terminate-session", sessionId], { timeoutMs: 10_000 });
  if (r.code !== 0) return failed(`loginctl terminate-session ${sessionId}: ${r.stderr.trim().slice(0, 500)}`);
  return succeeded({ terminated: { sessionId } });
}

async function terminateSshd(t: Extract<SessionTarget, { by: "sshd" }>, protectedPids: readonly number[]) {
  const s = readProcStat(t.pid);
  if (!s) return failed(`no process ${t.pid}`);
  if (!SSHD_COMMS.has(s.comm)) return failed(`pid ${t.pid} is "${s.comm}", not an sshd session process`);
  // The listening daemon is an sshd whose parent is not sshd; killing its tree would end every session.
  const parent = readProcStat(s.ppid);
  if (!parent || !SSHD_COMMS.has(parent.comm)) return failed(`pid ${t.pid} is the sshd listener, not a session; refusing to end all sessions`);
  const identity = t.startTicks === undefined && t.startTimeMs === undefined ? { startTicks: s.startTicks } : { startTicks: t.startTicks, startTimeMs: t.startTimeMs };
  const r = await killProcess({ pid: t.pid, ...identity, tree: true }, { protectedPids });
  if (!r.ok) return failed(r.reason, { killed: r.killed ?? [] });
  return succeeded({ terminated: { sshdPid: t.pid }, killed: r.killed });
}

async function terminateTty(user: string, tty: string, deps: SessionDeps) {
  const uid = lookupUid(user, deps.passwdPath ?? "/etc/passwd");
  if (uid === undefined) return failed(`no such user ${user}`);
  let rdev: number;
  try {
    rdev = statSync(`/dev/${tty}`).rdev;
  } catch {
    return failed(`no terminal /dev/${tty}`);
  }
  // Session leaders on that terminal owned by that user; their trees are the session.
  const leaders = [...snapshot().values()].filter((p) => p.ttyNr === rdev && p.pid === p.session && processUid(p.pid) === uid);
  if (leaders.length === 0) return failed(`no session of ${user} on ${tty}`);
  const killed: KilledProcess[] = [];
  for (const l of leaders) {
    const r = await killProcess({ pid: l.pid, startTicks: l.startTicks, tree: true }, { protectedPids: deps.protectedPids });
    killed.push(...(r.killed ?? []));
    if (!r.ok) return failed(r.reason, { killed });
  }
  return succeeded({ terminated: { user, tty }, killed });
}

function lookupUid(user: string, passwdPath: string): number | undefined {
  for (const line of readFileSync(passwdPath, "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === user && f[2] !== undefined && /^\d+$/.test(f[2])) return Number(f[2]);
  }
  return undefined;
}
