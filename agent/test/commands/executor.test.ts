import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CommandResult, CommandStatus } from "@vigil/proto";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { CommandExecutor } from "../../src/commands/executor";
import { CommandVerifier } from "../../src/commands/verify";
import type { CommandHandler } from "../../src/enforcement/handler";
import { killProcessHandler } from "../../src/enforcement/kill-handler";
import { readProcStat } from "../../src/platform/linux/processes";
import { testSigner } from "./signer";

const AGENT = "agent-exec";
const controller = testSigner();
const dir = mkdtempSync(join(tmpdir(), "vigil-exec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const spawned: ChildProcess[] = [];
afterEach(() => {
  for (const c of spawned.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function victim(): { pid: number; params: string } {
  const c = spawn("sleep", ["1000"], { stdio: "ignore" });
  spawned.push(c);
  const pid = c.pid as number;
  return { pid, params: JSON.stringify({ pid, startTicks: readProcStat(pid)?.startTicks }) };
}
const alive = (pid: number): boolean => ![undefined, "Z"].includes(readProcStat(pid)?.state);

/** Test-only handlers to drive the executor's own error paths; the OS is not involved. */
const throwing: CommandHandler<unknown> = { type: "explode", validate: (p) => p, run: async () => Promise.reject(new Error("boom")) };
const hanging: CommandHandler<unknown> = { type: "hang", validate: (p) => p, run: () => new Promise(() => undefined) };

function executor(mode: "enforce" | "monitor" = "enforce"): CommandExecutor {
  return new CommandExecutor({
    verifier: new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir: mkdtempSync(join(dir, "s-")) }),
    handlers: [killProcessHandler({ protectedPids: [process.pid] }), throwing, hanging],
    mode: (type) => (type === "kill_process" ? mode : "enforce"),
    handlerTimeoutMs: 300,
  });
}
const output = (r: CommandResult): Record<string, unknown> => JSON.parse(r.outputJson) as Record<string, unknown>;

describe("CommandExecutor", () => {
  it("runs a signed kill_process against a real process and reports success", async () => {
    const v = victim();
    const cmd = controller.command({ agentId: AGENT, type: "kill_process", paramsJson: v.params });
    const r = await executor().execute(cmd);
    expect(r).toMatchObject({ commandId: cmd.id, type: "kill_process", status: CommandStatus.COMMAND_STATUS_SUCCEEDED, local: false });
    expect(output(r).killed).toEqual([expect.objectContaining({ pid: v.pid, comm: "sleep" })]);
    expect(alive(v.pid)).toBe(false);
  });

  it("refuses forged, misaddressed, expired and replayed commands, each reported, and the process lives", async () => {
    const v = victim();
    const ex = executor();
    const now = Date.now();
    const forged = testSigner().command({ agentId: AGENT, type: "kill_process", paramsJson: v.params });
    const wrongAgent = controller.command({ agentId: "someone-else", type: "kill_process", paramsJson: v.params });
    const expired = controller.command({ agentId: AGENT, type: "kill_process", paramsJson: v.params, issuedAtMs: now - 600_000, expiresAtMs: now - 300_000 });
    const results = [await ex.execute(forged), await ex.execute(wrongAgent), await ex.execute(expired)];
    expect(results.map((r) => [r.status, r.reason.split(":")[0]])).toEqual([
      [CommandStatus.COMMAND_STATUS_REFUSED, "bad_signature"],
      [CommandStatus.COMMAND_STATUS_REFUSED, "wrong_agent"],
      [CommandStatus.COMMAND_STATUS_REFUSED, "expired"],
    ]);
    expect(results.map((r) => r.commandId)).toEqual([forged.id, wrongAgent.id, expired.id]);
    expect(alive(v.pid)).toBe(true);

    // A replay is refused even though the first run failed (it hit a finished process).
    const once = controller.command({ agentId: AGENT, type: "kill_process", paramsJson: JSON.stringify({ pid: 4_000_000, startTicks: 1 }) });
    expect((await ex.execute(once)).status).toBe(CommandStatus.COMMAND_STATUS_FAILED);
    const replay = await ex.execute(once);
    expect(replay).toMatchObject({ status: CommandStatus.COMMAND_STATUS_REFUSED, reason: expect.stringMatching(/^replayed:/) });
  });

  it("refuses unknown types and bad params naming the field", async () => {
    const ex = executor();
    const unknown = await ex.execute(controller.command({ agentId: AGENT, type: "format_disk" }));
    expect(unknown).toMatchObject({ status: CommandStatus.COMMAND_STATUS_REFUSED, reason: expect.stringMatching(/^unknown_type/) });
    const bad = await ex.execute(controller.command({ agentId: AGENT, type: "kill_process", paramsJson: '{"pid":-1,"startTicks":5}' }));
    expect(bad).toMatchObject({ status: CommandStatus.COMMAND_STATUS_REFUSED, reason: expect.stringMatching(/^malformed: pid: must be an integer/) });
  });

  it("turns a throwing or hanging handler into a failed result", async () => {
    const ex = executor();
    expect(await ex.execute(controller.command({ agentId: AGENT, type: "explode" }))).toMatchObject({ status: CommandStatus.COMMAND_STATUS_FAILED, reason: "handler error: boom" });
    const t0 = Date.now();
    const hung = await ex.execute(controller.command({ agentId: AGENT, type: "hang" }));
    expect(hung).toMatchObject({ status: CommandStatus.COMMAND_STATUS_FAILED, reason: expect.stringMatching(/did not finish within 300 ms/) });
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("monitor mode reports what it would do and leaves the process running", async () => {
    const v = victim();
    const r = await executor("monitor").execute(controller.command({ agentId: AGENT, type: "kill_process", paramsJson: v.params }));
    expect(r).toMatchObject({ status: CommandStatus.COMMAND_STATUS_NOT_ENFORCED, reason: "not enforced (monitor)" });
    expect(output(r)).toMatchObject({ mode: "monitor", present: true });
    expect(alive(v.pid)).toBe(true);
  });

  it("local policy actions run without a signature, are marked local, and can never release", async () => {
    const v = victim();
    const ex = executor();
    const r = await ex.executeLocal({ type: "kill_process", params: JSON.parse(v.params) as unknown });
    expect(r).toMatchObject({ status: CommandStatus.COMMAND_STATUS_SUCCEEDED, local: true, commandId: expect.stringMatching(/^local-/) });
    expect(alive(v.pid)).toBe(false);
    const rel = await ex.executeLocal({ id: "rule-7-hit", type: "release", params: {} });
    expect(rel).toMatchObject({ commandId: "rule-7-hit", status: CommandStatus.COMMAND_STATUS_REFUSED, local: true, reason: expect.stringMatching(/^forbidden/) });
    // Only what the contract allows local policy (COMMANDS[type].localPolicy): nothing that lifts containment or reads files.
    for (const type of ["unblock_ip", "collect_evidence", "terminate_session", "explode"]) {
      expect(await ex.executeLocal({ type, params: {} }), type).toMatchObject({
        status: CommandStatus.COMMAND_STATUS_REFUSED,
        reason: `forbidden: local policy may not ${type}; only a signed command can`,
      });
    }
  });
});
