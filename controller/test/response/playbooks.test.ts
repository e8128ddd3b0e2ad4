import { randomUUID } from "node:crypto";
import { CommandStatus, type Command } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PlaybookAlert } from "../../src/playbooks/action-params";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

const ISOLATE_PB = `
id: contain-brute-force
name: Contain an account compromise
when:
  minScore: 70
  tags: [attack.credential_access]
actions:
  - type: isolate
  - type: block_ip
    params: { ttlSeconds: 3600 }
  - type: kill_process
approval: auto
`;

function alert(agentId: string, over: Partial<PlaybookAlert> = {}): PlaybookAlert {
  return {
    id: randomUUID(),
    ruleId: "rule-1",
    ruleTitle: "SSH brute force then login",
    ruleTags: ["attack.credential_access", "attack.t1110"],
    score: 85,
    agentId,
    caseId: randomUUID(),
    entityKind: "ip",
    entityValue: "203.0.113.50",
    eventFields: [{ SourceIp: "203.0.113.50", Service: "sshd", User: "root" }],
    ...over,
  };
}

function commandsOf(a: RawAgent): Command[] {
  return a.received.flatMap((m) => (m.msg?.$case === "command" ? [m.msg.command] : []));
}

describe("playbooks: alerts to actions, with guard rails", () => {
  let ctl: TestController;
  let web: RawAgent;
  let db: RawAgent;

  beforeAll(async () => {
    ctl = await startTestController({ env: { VIGIL_MAX_AUTO_ISOLATIONS_PER_HOUR: "2", VIGIL_NEVER_BLOCK: "198.51.100.0/24" } });
    web = new RawAgent(ctl.grpcPort);
    web.hello("web-1", { tags: ["web"] });
    db = new RawAgent(ctl.grpcPort);
    db.hello("db-1", { tags: ["critical"] });
    await waitFor("both welcomed", () => web.received.length > 0 && db.received.length > 0);
  });
  afterAll(async () => {
    web?.close();
    db?.close();
    await ctl?.dispose();
  });

  it("creates versioned playbooks and refuses bad YAML with the field and line", async () => {
    const created = await request(ctl, "POST", "/api/v1/playbooks", { yaml: ISOLATE_PB });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: "contain-brute-force", version: 1, approval: "auto" });
    const updated = await request(ctl, "PUT", "/api/v1/playbooks/contain-brute-force", { yaml: ISOLATE_PB.replace("minScore: 70", "minScore: 60") });
    expect(updated.body.version).toBe(2);
    const one = await request(ctl, "GET", "/api/v1/playbooks/contain-brute-force");
    expect(one.body.versions.map((v: { version: number }) => v.version)).toEqual([1, 2]);
    expect(one.body.when.minScore).toBe(60);

    const bad = await request(ctl, "POST", "/api/v1/playbooks", { yaml: "id: x\nname: y\nwhen:\n  minScore: 50\nactions:\n  - type: reboot\n" });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/actions\[0\]\.type \(line 6\)/);
    const dup = await request(ctl, "POST", "/api/v1/playbooks", { yaml: ISOLATE_PB });
    expect(dup.status).toBe(409);
    const everything = await request(ctl, "POST", "/api/v1/playbooks", { yaml: "id: all\nname: all\nwhen: {}\nactions: [{type: isolate}]\n" });
    expect(everything.status).toBe(400);
    expect(everything.body.message).toContain("matches every alert");
  });

  it("an automatic playbook isolates, blocks the attacker's IP, and skips what the alert cannot support", async () => {
    const a = alert("web-1");
    const decisions = await ctl.playbooks.onAlert(a);
    expect(decisions.map((d) => [d.actionType, d.state])).toEqual([
      ["isolate", "issued"],
      ["block_ip", "issued"],
      ["kill_process", "skipped"],
    ]);
    expect(decisions[2].reason).toMatch(/no process/);
    const cmds = await waitFor("two commands on the agent", () => (commandsOf(web).length >= 2 ? commandsOf(web) : undefined));
    expect(cmds.map((c) => c.type)).toEqual(["isolate", "block_ip"]);
    expect(JSON.parse(cmds[1].paramsJson)).toMatchObject({ ip: "203.0.113.50", ttlSeconds: 3600 });
    // The same alert updated again (dedup) does not act twice.
    expect(await ctl.playbooks.onAlert({ ...a, score: 95 })).toEqual([]);
    const list = await request(ctl, "GET", `/api/v1/playbook-actions?case=${a.caseId}`);
    expect(list.body.items).toHaveLength(3);
    const isolateCmd = await request(ctl, "GET", `/api/v1/commands?agent=web-1`);
    expect(isolateCmd.body.items.every((c: { requestedBy: string }) => c.requestedBy === "playbook:contain-brute-force@v2")).toBe(true);
  });

  it("undoes an automatic isolation from the case", async () => {
    const iso = commandsOf(web).find((c) => c.type === "isolate")!;
    web.send({
      msg: { $case: "result", result: { commandId: iso.id, status: CommandStatus.COMMAND_STATUS_SUCCEEDED, reason: "", outputJson: "{}", finishedAtMs: Date.now(), local: false, type: "isolate" } },
    });
    await waitFor("isolate succeeded", async () => (await request(ctl, "GET", `/api/v1/commands/${iso.id}`)).body.state === "succeeded");
    const undo = await request(ctl, "POST", `/api/v1/commands/${iso.id}/undo`);
    expect(undo.status).toBe(202);
    expect(undo.body).toMatchObject({ type: "release", undoOf: iso.id });
    await waitFor("release delivered", () => commandsOf(web).some((c) => c.type === "release"));
    const kill = await request(ctl, "POST", "/api/v1/agents/web-1/commands", { type: "kill_process", params: { pid: 99, startTimeMs: 5 } });
    const notUndoable = await request(ctl, "POST", `/api/v1/commands/${kill.body.id}/undo`);
    expect(notUndoable.status).toBe(409);
  });

  it("a critical agent is never isolated without an analyst; approval sends the command", async () => {
    const decisions = await ctl.playbooks.onAlert(alert("db-1"));
    const iso = decisions.find((d) => d.actionType === "isolate")!;
    expect(iso.state).toBe("pending");
    expect(iso.reason).toMatch(/tagged critical/);
    expect(commandsOf(db).some((c) => c.type === "isolate")).toBe(false);
    const approved = await request(ctl, "POST", `/api/v1/playbook-actions/${iso.id}/approve`);
    expect(approved.status).toBe(201);
    expect(approved.body.state).toBe("approved");
    await waitFor("isolate delivered after approval", () => commandsOf(db).some((c) => c.type === "isolate"));
    const again = await request(ctl, "POST", `/api/v1/playbook-actions/${iso.id}/approve`);
    expect(again.status).toBe(409);
  });

  it("never blocks an allowlisted IP, and caps automatic isolations per hour", async () => {
    const d1 = await ctl.playbooks.onAlert(alert("web-1", { entityValue: "198.51.100.9" }));
    expect(d1.find((d) => d.actionType === "block_ip")).toMatchObject({ state: "refused" });
    expect(d1.find((d) => d.actionType === "block_ip")!.reason).toMatch(/never-block/);
    // Two automatic isolations already happened this hour (web-1 twice): the third needs an analyst.
    const d2 = await ctl.playbooks.onAlert(alert("web-1"));
    expect(d2.find((d) => d.actionType === "isolate")).toMatchObject({ state: "pending" });
    expect(d2.find((d) => d.actionType === "isolate")!.reason).toMatch(/limit reached/);
  });
});
