import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandStatus, type CommandResult, type ControllerMessage } from "@vigil/proto";
import { afterAll, describe, expect, it } from "vitest";
import type { LiveSession } from "../../src/agents/agent-registry";
import type { RemoteDelivery } from "../../src/agents/agent-relay";
import { CommandService } from "../../src/commands/command-service";
import { CommandSigner } from "../../src/crypto/signing-key";
import type { ActionLogEntity, CommandEntity, CommandState } from "../../src/database/entities";
import type { CommandFilter, CommandRepository } from "../../src/database/repositories/command-repository";

/**
 * CommandService against an in-memory CommandRepository and a fake live session: queueing,
 * delivery, results (first wins, only from the command's agent) and expiry, with a real signer.
 */
class FakeCommands implements CommandRepository {
  readonly rows = new Map<string, CommandEntity>();
  readonly log: Array<{ commandId: string; step: string }> = [];

  byId(id: string): Promise<CommandEntity | null> {
    const c = this.rows.get(id);
    return Promise.resolve(c ? { ...c } : null);
  }
  insert(c: CommandEntity): Promise<void> {
    this.rows.set(c.id, { ...c });
    return Promise.resolve();
  }
  pendingFor(agentId: string): Promise<CommandEntity[]> {
    return Promise.resolve([...this.rows.values()].filter((c) => c.agentId === agentId && (c.state === "queued" || c.state === "sent")).map((c) => ({ ...c })));
  }
  async pendingForMany(agentIds: readonly string[]): Promise<Map<string, CommandEntity[]>> {
    const out = new Map<string, CommandEntity[]>();
    for (const id of agentIds) {
      const list = await this.pendingFor(id);
      if (list.length) out.set(id, list);
    }
    return out;
  }
  markSent(id: string, sentAt: number): Promise<void> {
    const c = this.rows.get(id);
    if (c?.state === "queued") Object.assign(c, { state: "sent", sentAt });
    return Promise.resolve();
  }
  finish(id: string, from: CommandState, to: { state: CommandState; reason: string; outputJson: string; finishedAt: number }): Promise<boolean> {
    const c = this.rows.get(id);
    if (!c || c.state !== from) return Promise.resolve(false);
    Object.assign(c, to);
    return Promise.resolve(true);
  }
  overdue(now: number): Promise<CommandEntity[]> {
    return Promise.resolve([...this.rows.values()].filter((c) => (c.state === "queued" || c.state === "sent") && c.expiresAt <= now).map((c) => ({ ...c })));
  }
  list(f: CommandFilter): Promise<CommandEntity[]> {
    return Promise.resolve([...this.rows.values()].filter((c) => !f.agentId || c.agentId === f.agentId).slice(0, f.limit));
  }
  addStep(s: { time: number; commandId: string; agentId: string; step: string; detail: string }): Promise<void> {
    this.log.push({ commandId: s.commandId, step: s.step });
    return Promise.resolve();
  }
  steps(commandId: string): Promise<ActionLogEntity[]> {
    return Promise.resolve(this.log.filter((l) => l.commandId === commandId).map((l, i) => ({ id: String(i), time: 0, agentId: "", detail: "{}", ...l }) as unknown as ActionLogEntity));
  }
}

const dir = mkdtempSync(join(tmpdir(), "vigil-command-unit-"));
const signer = CommandSigner.loadOrCreate(join(dir, "command-signing.pem"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(online: boolean, remote?: RemoteDelivery) {
  const repo = new FakeCommands();
  const sent: ControllerMessage[] = [];
  const session: LiveSession = { agentId: "agent-1", send: (m) => void sent.push(m), close: () => undefined };
  let now = 1_000_000;
  const held = { online };
  const service = new CommandService(repo, { session: (id) => (held.online && id === "agent-1" ? session : undefined) }, signer, undefined, () => now, undefined, remote);
  return { repo, sent, service, held, tick: (ms: number) => (now += ms) };
}

const result = (commandId: string, status: CommandStatus, over: Partial<CommandResult> = {}): CommandResult => ({
  commandId,
  status,
  reason: "",
  outputJson: "{}",
  finishedAtMs: 0,
  local: false,
  type: "isolate",
  ...over,
});

/** Background bookkeeping after a send (markSent, step) settles on the next turns. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe("CommandService (unit, fake repository)", () => {
  it("queues a signed command for an offline agent and delivers it, once, when the agent connects", async () => {
    const { repo, sent, service } = setup(false);
    const c = await service.issue("agent-1", "isolate", { reason: "test" }, { requestedBy: "alice" });
    expect(repo.rows.get(c.id)).toMatchObject({ state: "queued", requestedBy: "alice", type: "isolate" });
    expect(c.signature).not.toBe("");
    expect(sent).toEqual([]);
    expect(repo.log.map((l) => l.step)).toEqual(["requested"]);

    const online = setup(true);
    const d = await online.service.issue("agent-1", "isolate", { reason: "test" }, { requestedBy: "bob" });
    await settle();
    expect(online.sent).toHaveLength(1);
    expect(online.sent[0]?.msg?.$case).toBe("command");
    expect(online.repo.rows.get(d.id)).toMatchObject({ state: "sent" });
    expect(online.repo.log.map((l) => l.step)).toEqual(["requested", "sent"]);
  });

  it("records the first result only, and only from the command's own agent", async () => {
    const { repo, service } = setup(true);
    const c = await service.issue("agent-1", "isolate", { reason: "test" }, { requestedBy: "alice" });
    await settle();
    await service.onResult("agent-2", result(c.id, CommandStatus.COMMAND_STATUS_FAILED));
    expect(repo.rows.get(c.id)?.state).toBe("sent");
    await service.onResult("agent-1", result(c.id, CommandStatus.COMMAND_STATUS_SUCCEEDED, { finishedAtMs: 1_000_500 }));
    await service.onResult("agent-1", result(c.id, CommandStatus.COMMAND_STATUS_FAILED, { reason: "replayed late" }));
    expect(repo.rows.get(c.id)).toMatchObject({ state: "succeeded", finishedAt: 1_000_500, reason: "" });
    expect((await service.history(c.id)).map((s) => s.step)).toEqual(["requested", "sent", "succeeded"]);
  });

  it("keeps a local action the agent took on its own, and ignores a result for a command never issued", async () => {
    const { repo, service } = setup(true);
    await service.onResult("agent-1", result("never-issued", CommandStatus.COMMAND_STATUS_SUCCEEDED));
    expect(repo.rows.size).toBe(0);
    await service.onResult("agent-1", result("local-1", CommandStatus.COMMAND_STATUS_SUCCEEDED, { local: true, type: "kill_process" }));
    expect(repo.rows.get("local-1")).toMatchObject({ local: true, state: "succeeded", requestedBy: "agent-local-policy", agentId: "agent-1" });
  });

  it("expires what no agent picked up before its deadline", async () => {
    const { repo, service, tick } = setup(false);
    const c = await service.issue("agent-1", "isolate", { reason: "test" }, { requestedBy: "alice", ttlMs: 60_000 });
    expect(await service.expireOverdue()).toBe(0);
    tick(60_000);
    expect(await service.expireOverdue()).toBe(1);
    expect(repo.rows.get(c.id)).toMatchObject({ state: "expired" });
    await service.deliverPending("agent-1");
    expect(repo.rows.get(c.id)?.state).toBe("expired");
  });

  it("distributed mode: nudges the replica holding the agent, serves a nudge only for a queued command of that agent, and sweeps up what a lost nudge left queued", async () => {
    const nudges: Array<[string, string]> = [];
    const { repo, sent, service, held, tick } = setup(false, { nudge: (a, c) => void nudges.push([a, c]) });
    const c = await service.issue("agent-1", "isolate", { reason: "test" }, { requestedBy: "alice" });
    expect(nudges).toEqual([["agent-1", c.id]]);
    expect(sent).toEqual([]);

    // On the holder: a nudge for another agent, or an unknown command, does nothing; the right one sends it.
    held.online = true;
    await service.deliverQueued("agent-2", c.id);
    await service.deliverQueued("agent-1", "no-such-command");
    expect(sent).toEqual([]);
    await service.deliverQueued("agent-1", c.id);
    await settle();
    expect(sent).toHaveLength(1);
    expect(repo.rows.get(c.id)?.state).toBe("sent");
    // Sent already: neither a repeated nudge nor the sweep sends it again.
    await service.deliverQueued("agent-1", c.id);
    expect(await service.deliverHeldQueued()).toBe(0);
    expect(sent).toHaveLength(1);

    // A nudge lost (NATS away): the sweep on the holder sends it; an expired one is left to expiry.
    held.online = false;
    const lost = await service.issue("agent-1", "isolate", { reason: "lost nudge" }, { requestedBy: "alice", ttlMs: 60_000 });
    const late = await service.issue("agent-1", "isolate", { reason: "too late" }, { requestedBy: "alice", ttlMs: 1_000 });
    held.online = true;
    tick(2_000);
    expect(await service.deliverHeldQueued()).toBe(1);
    await settle();
    expect(repo.rows.get(lost.id)?.state).toBe("sent");
    expect(repo.rows.get(late.id)?.state).toBe("queued");
    // A nudge is never relayed on by the replica that received it (no ping-pong between replicas).
    held.online = false;
    const before = nudges.length;
    const third = await service.issue("agent-1", "isolate", { reason: "third" }, { requestedBy: "alice" });
    expect(nudges.length).toBe(before + 1);
    await service.deliverQueued("agent-1", third.id);
    expect(nudges.length).toBe(before + 1);
  });
});
