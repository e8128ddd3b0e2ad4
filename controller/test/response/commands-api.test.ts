import { createPublicKey, verify } from "node:crypto";
import { CommandStatus, commandSigningPayload, signedCommandFields, type Command } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

function commandsOf(a: RawAgent): Command[] {
  return a.received.flatMap((m) => (m.msg?.$case === "command" ? [m.msg.command] : []));
}

function verifies(ctl: TestController, c: Command): boolean {
  const key = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), ctl.signer.publicKeyRaw]), format: "der", type: "spki" });
  return verify(null, commandSigningPayload(c), key, c.signature);
}

describe("commands: signed, queued for offline agents, results recorded", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController();
    const a = new RawAgent(ctl.grpcPort);
    a.hello("cmd-agent");
    await waitFor("welcome", () => a.received.length > 0);
    a.close();
    await waitFor("agent offline", () => !ctl.registry.session("cmd-agent"));
  });
  afterAll(async () => ctl?.dispose());

  it("queues a command for an offline agent, delivers it signed on reconnect, and records the result", async () => {
    const issued = await request(ctl, "POST", "/api/v1/agents/cmd-agent/commands", { type: "kill_process", params: { pid: 4242, startTimeMs: 1_700_000_000_000, tree: true }, ttlSeconds: 600 });
    expect(issued.status).toBe(202);
    expect(issued.body.state).toBe("queued");

    const agent = new RawAgent(ctl.grpcPort);
    agent.hello("cmd-agent");
    const cmd = await waitFor("the queued command", () => commandsOf(agent)[0]);
    expect(cmd.id).toBe(issued.body.id);
    expect(cmd.agentId).toBe("cmd-agent");
    expect(JSON.parse(cmd.paramsJson)).toEqual({ pid: 4242, startTimeMs: 1_700_000_000_000, tree: true });
    expect(verifies(ctl, cmd)).toBe(true);
    // The typed oneof travels beside the legacy fields, and the one signature covers it: its canonical JSON is params_json.
    expect(cmd.params).toEqual({ $case: "killProcess", killProcess: { pid: 4242, startTimeMs: 1_700_000_000_000, tree: true, startTicks: undefined, reason: undefined } });
    const signed = signedCommandFields(cmd);
    expect(signed).toEqual({ ok: true, type: "kill_process", paramsJson: cmd.paramsJson, typed: true });
    await waitFor("state sent", async () => (await request(ctl, "GET", `/api/v1/commands/${cmd.id}`)).body.state === "sent");

    agent.send({
      msg: {
        $case: "result",
        result: {
          commandId: cmd.id,
          status: CommandStatus.COMMAND_STATUS_SUCCEEDED,
          reason: "",
          outputJson: JSON.stringify({ killed: [4242] }),
          finishedAtMs: Date.now(),
          local: false,
          type: "kill_process",
        },
      },
    });
    const done = await waitFor("succeeded", async () => {
      const r = await request(ctl, "GET", `/api/v1/commands/${cmd.id}`);
      return r.body.state === "succeeded" ? r.body : undefined;
    });
    expect(done.output).toEqual({ killed: [4242] });
    expect(done.history.map((h: { step: string }) => h.step)).toEqual(["requested", "sent", "succeeded"]);
    agent.close();
  });

  it("a monitor-mode result reads not_enforced, from the spool replay and from an older agent's 'succeeded'", async () => {
    const agent = new RawAgent(ctl.grpcPort);
    agent.hello("mon-agent");
    await waitFor("welcome", () => agent.received.length > 0);
    const a = (await request(ctl, "POST", "/api/v1/agents/mon-agent/isolate", { reason: "replayed" })).body.id as string;
    const b = (await request(ctl, "POST", "/api/v1/agents/mon-agent/isolate", { reason: "older agent" })).body.id as string;
    await waitFor("both delivered", () => commandsOf(agent).filter((c) => c.id === a || c.id === b).length === 2);
    // Through the spool (a command_result agent event), as a current agent reports it...
    agent.events(1, 1, () => ({
      body: { $case: "agent", agent: { kind: "command_result", message: "not enforced (monitor)", attributes: { commandId: a, status: "not_enforced", type: "isolate", local: "false" } } },
    }));
    // ...and on the stream from an agent that predates COMMAND_STATUS_NOT_ENFORCED.
    agent.send({
      msg: {
        $case: "result",
        result: { commandId: b, status: CommandStatus.COMMAND_STATUS_SUCCEEDED, reason: "monitor: not enforced", outputJson: "{}", finishedAtMs: Date.now(), local: false, type: "isolate" },
      },
    });
    for (const id of [a, b]) {
      const c = await waitFor(`${id} finished`, async () => {
        const r = (await request(ctl, "GET", `/api/v1/commands/${id}`)).body;
        return r.state !== "sent" && r.state !== "queued" ? r : undefined;
      });
      expect(c).toMatchObject({ state: "not_enforced", reason: "not enforced (monitor)" });
    }
    agent.close();
  });

  it("a result reported twice (stream and spool replay) is recorded once; another agent cannot answer", async () => {
    const agent = new RawAgent(ctl.grpcPort);
    agent.hello("cmd-agent");
    await waitFor("welcome", () => agent.received.length > 0);
    const issued = await request(ctl, "POST", "/api/v1/agents/cmd-agent/isolate", { reason: "test" });
    expect(issued.status).toBe(202);
    const cmd = await waitFor("command", () => commandsOf(agent).find((c) => c.id === issued.body.id));
    expect(cmd.type).toBe("isolate");

    const intruder = new RawAgent(ctl.grpcPort);
    intruder.hello("other-agent");
    await waitFor("welcome", () => intruder.received.length > 0);
    intruder.send({
      msg: { $case: "result", result: { commandId: cmd.id, status: CommandStatus.COMMAND_STATUS_FAILED, reason: "forged", outputJson: "", finishedAtMs: Date.now(), local: false, type: "isolate" } },
    });

    agent.send({
      msg: {
        $case: "result",
        result: { commandId: cmd.id, status: CommandStatus.COMMAND_STATUS_REFUSED, reason: "bad_signature: x", outputJson: "", finishedAtMs: Date.now(), local: false, type: "isolate" },
      },
    });
    // The same result again, as replayed from the agent's spool.
    agent.events(1, 1, () => ({
      body: { $case: "agent", agent: { kind: "command_result", message: "bad_signature: x", attributes: { commandId: cmd.id, status: "refused", type: "isolate", local: "false" } } },
    }));
    await waitFor("ack", () => agent.lastAck() === 1);
    const r = await waitFor("refused", async () => {
      const x = await request(ctl, "GET", `/api/v1/commands/${cmd.id}`);
      return x.body.state === "refused" ? x.body : undefined;
    });
    expect(r.reason).toBe("bad_signature: x");
    expect(r.history.filter((h: { step: string }) => h.step === "refused")).toHaveLength(1);
    agent.close();
    intruder.close();
  });

  it("an action the agent took on its own (offline) is recorded from its spooled result", async () => {
    const agent = new RawAgent(ctl.grpcPort);
    agent.hello("cmd-agent", { lastSeq: 1 });
    await waitFor("welcome", () => agent.received.length > 0);
    agent.events(2, 1, () => ({
      body: { $case: "agent", agent: { kind: "command_result", message: "", attributes: { commandId: "local-abc", status: "succeeded", type: "isolate", local: "true", ruleId: "r1" } } },
    }));
    const r = await waitFor("local action", async () => {
      const x = await request(ctl, "GET", `/api/v1/commands/local-abc`);
      return x.status === 200 ? x.body : undefined;
    });
    expect(r.state).toBe("succeeded");
    expect(r.local).toBe(true);
    const list = await request(ctl, "GET", "/api/v1/commands?agent=cmd-agent&state=succeeded");
    expect(list.body.items.map((c: { id: string }) => c.id)).toContain("local-abc");
    agent.close();
  });

  it("expires a queued command nobody picked up", async () => {
    const issued = await request(ctl, "POST", "/api/v1/agents/cmd-agent/commands", { type: "block_ip", params: { ip: "203.0.113.7", ttlSeconds: 60 }, ttlSeconds: 1 });
    expect(issued.status).toBe(202);
    // The sweeper runs every few seconds; drive it directly until the 1 s TTL has passed.
    await waitFor("the command to expire", async () => (await ctl.commands.expireOverdue()) > 0, 10_000);
    const r = await request(ctl, "GET", `/api/v1/commands/${issued.body.id}`);
    expect(r.body.state).toBe("expired");
    expect(r.body.reason).toMatch(/expired/);
  });

  it.each([
    [{ type: "explode" }, "type"],
    [{ type: "kill_process", params: {} }, "params.pid"],
    [{ type: "kill_process", params: { pid: -1 } }, "params.pid"],
    [{ type: "block_ip", params: { ip: "not-an-ip" } }, "params.ip"],
    [{ type: "isolate", params: { allowCidrs: ["10.0.0.0/99"] } }, "params.allowCidrs[0]"],
    [{ type: "isolate", params: { bogus: 1 } }, "params.bogus"],
    [{ type: "isolate", ttlSeconds: 0 }, "ttlSeconds"],
  ])("400 naming the parameter for %j", async (body, name) => {
    const r = await request(ctl, "POST", "/api/v1/agents/cmd-agent/commands", body);
    expect(r.status).toBe(400);
    expect(r.body.message).toContain(name);
  });

  it("404 for an unknown agent or command", async () => {
    expect((await request(ctl, "POST", "/api/v1/agents/ghost/isolate", {})).status).toBe(404);
    expect((await request(ctl, "GET", "/api/v1/commands/nope")).status).toBe(404);
  });
});
