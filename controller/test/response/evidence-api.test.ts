import { COMMAND_LIMITS, CommandStatus, type Command } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";
import { Receiver, StreamClient } from "../integrations/support";
import { loadConfig } from "../../src/config/config";
import { CaseEntity } from "../../src/database/entities/case.entity";

const AGENT = "ev-agent";
const SECRET_TEXT = "root:$6$evidence-secret-hash";

/**
 * The API half of "evidence with limits no role can lift": who may fetch file contents,
 * who sees what came back, on every path that shows command results. The agent here is a
 * raw gRPC client answering with a chosen output; agent/test/response/evidence-e2e.test.ts
 * runs the real agent.
 */
describe("evidence over the API: permissions, reason, shared limits, redaction", () => {
  let ctl: TestController;
  let agent: RawAgent;
  let rx: Receiver;
  const keys: Record<"analyst" | "readonly" | "integration", string> = { analyst: "", readonly: "", integration: "" };
  const as = (key: string) => ({ authorization: `Bearer ${key}` });
  const commandsOf = (): Command[] => agent.received.flatMap((m) => (m.msg?.$case === "command" ? [m.msg.command] : []));

  beforeAll(async () => {
    rx = await new Receiver().start();
    ctl = await startTestController({ env: { VIGIL_WEBHOOK_BACKOFF: "20ms", VIGIL_WEBHOOK_BACKOFF_MAX: "100ms" } });
    for (const role of ["analyst", "readonly", "integration"] as const) keys[role] = (await ctl.security.apiKeys.create(role, `${role} key`, "test")).key;
    agent = new RawAgent(ctl.grpcPort);
    agent.hello(AGENT);
    await waitFor("welcome", () => agent.received.length > 0);
  });
  afterAll(async () => {
    agent?.close();
    await ctl?.dispose();
    await rx?.close();
  });

  const issue = (key: string | undefined, params: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    request(ctl, "POST", `/api/v1/agents/${AGENT}/commands`, { type: "collect_evidence", params, ...extra }, key ? as(key) : {});

  it("an analyst cannot fetch file contents, whatever the path; hashes and lists stay open to analysts", async () => {
    for (const filePath of ["/etc/shadow", "/tmp/notes.txt"]) {
      const r = await issue(keys.analyst, { filePath, reason: "looking around" });
      expect(r.status, JSON.stringify(r.body)).toBe(403);
      expect(r.body.message).toMatch(/evidence\.fetch_file permission \(admin keys unless VIGIL_EVIDENCE_FILE_ROLES grants analysts\)/);
    }
    const dotted = await issue(keys.analyst, { filePath: "/etc/../etc/shadow", reason: "x" });
    expect(dotted.status).toBe(400);
    expect(dotted.body.message).toBe("params.filePath: must not contain . or .. components: give the canonical path");
    const ok = await issue(keys.analyst, { processes: true, sha256Paths: ["/usr/bin/ls"] });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
    // Nothing was signed for the refused requests.
    await waitFor("the allowed command", () => commandsOf().find((c) => c.id === ok.body.id));
    expect(commandsOf().every((c) => !JSON.parse(c.paramsJson).filePath)).toBe(true);
  });

  it("an admin needs a reason, and gets the shared 1 MiB limit, not 16 MiB", async () => {
    const noReason = await issue(undefined, { filePath: "/tmp/notes.txt" });
    expect(noReason.status).toBe(400);
    expect(noReason.body.message).toMatch(/^params\.reason: required \(non-empty\) to fetch a file's contents/);
    const blank = await issue(undefined, { filePath: "/tmp/notes.txt", reason: "  " });
    expect(blank.status).toBe(400);

    const huge = await issue(undefined, { filePath: "/tmp/notes.txt", reason: "incident 7", fileMaxBytes: 16 * 1024 * 1024 });
    expect(huge.status).toBe(400);
    expect(huge.body.message).toBe(
      `params.fileMaxBytes: expected an integer between 1 and ${COMMAND_LIMITS.evidenceFileMaxBytes}: agents return at most ${COMMAND_LIMITS.evidenceFileMaxBytes} bytes of a file (COMMAND_LIMITS.evidenceFileMaxBytes)`,
    );
    const longPath = await issue(undefined, { filePath: "/" + "é".repeat(COMMAND_LIMITS.pathMaxBytes / 2), reason: "x" });
    expect(longPath.status).toBe(400);
    expect(longPath.body.message).toMatch(/longer than 4096 bytes/);
  });

  it("caller-chosen names are never echoed at length", async () => {
    const longType = await request(ctl, "POST", `/api/v1/agents/${AGENT}/commands`, { type: "x".repeat(100_000) }, as(keys.analyst));
    expect(longType.status).toBe(400);
    expect(longType.body.message.length).toBeLessThan(300);
    const longKey = await issue(keys.analyst, { processes: true, ["k".repeat(100_000)]: 1 });
    expect(longKey.status).toBe(400);
    expect(longKey.body.message.length).toBeLessThan(400);
  });

  it("caseId is bounded and validated", async () => {
    for (const caseId of ["c".repeat(COMMAND_LIMITS.caseIdMaxChars + 1), "case 1", "../x", "", 42]) {
      const r = await issue(keys.analyst, { processes: true }, { caseId });
      expect(r.status, String(caseId)).toBe(400);
      expect(r.body.message).toMatch(/caseId: expected a case id: 1-64 characters/);
    }
    const isolate = await request(ctl, "POST", `/api/v1/agents/${AGENT}/isolate`, { caseId: "x".repeat(100_000) }, as(keys.analyst));
    expect(isolate.status).toBe(400);
    const ok = await issue(keys.analyst, { processes: true }, { caseId: "case-2026.12:1" });
    expect(ok.status).toBe(202);
    expect(ok.body.caseId).toBe("case-2026.12:1");
  });

  it("what came back is shown to analyst and admin keys only: GET /commands(/:id), events, stream and webhooks never show it to others", async () => {
    const hook = await request(ctl, "POST", "/api/v1/webhooks", { name: "siem", url: `${rx.url}/siem`, topics: ["commands"] });
    expect(hook.status, JSON.stringify(hook.body)).toBe(201);
    const stream = await new StreamClient(ctl.httpUrl, keys.analyst).open();
    expect((await stream.subscribe("commands")).type).toBe("subscribed");
    const roStream = await new StreamClient(ctl.httpUrl, keys.readonly).open();
    expect((await roStream.subscribe("events")).type).toBe("subscribed");

    const now = Date.now();
    await ctl.dataSource.getRepository(CaseEntity).insert({
      id: "case-ev-1",
      title: "dropper",
      state: "new",
      verdict: null,
      score: 80,
      entities: [],
      alertCount: 0,
      firstSeen: now,
      lastSeen: now,
      createdAt: now,
      updatedAt: now,
      resolvedBy: null,
    });
    const issued = await issue(undefined, { filePath: "/tmp/notes.txt", reason: "incident 7: read the dropper's notes" }, { caseId: "case-ev-1" });
    expect(issued.status, JSON.stringify(issued.body)).toBe(202);
    const cmd = await waitFor("the command", () => commandsOf().find((c) => c.id === issued.body.id));
    const output = { file: { path: "/tmp/notes.txt", size: SECRET_TEXT.length, truncated: false, base64: Buffer.from(SECRET_TEXT).toString("base64") } };
    // The result comes twice, as the real agent sends it: on the stream, and as a spooled command_result event.
    agent.send({
      msg: {
        $case: "result",
        result: { commandId: cmd.id, status: CommandStatus.COMMAND_STATUS_SUCCEEDED, reason: "", outputJson: JSON.stringify(output), finishedAtMs: Date.now(), local: false, type: "collect_evidence" },
      },
    });
    agent.events(1, 1, () => ({
      body: {
        $case: "agent",
        agent: { kind: "command_result", message: "", attributes: { commandId: cmd.id, status: "succeeded", type: "collect_evidence", local: "false", output: JSON.stringify(output) } },
      },
    }));
    await waitFor("ack", () => agent.lastAck() === 1);

    const byAnalyst = await waitFor("succeeded", async () => {
      const r = await request(ctl, "GET", `/api/v1/commands/${cmd.id}`, undefined, as(keys.analyst));
      return r.body.state === "succeeded" ? r.body : undefined;
    });
    expect(byAnalyst.output).toEqual(output);
    expect(byAnalyst.params).toMatchObject({ reason: "incident 7: read the dropper's notes" });
    expect((await request(ctl, "GET", `/api/v1/commands/${cmd.id}`)).body.output).toEqual(output);

    const encoded = output.file.base64;
    for (const role of ["readonly", "integration"] as const) {
      const one = await request(ctl, "GET", `/api/v1/commands/${cmd.id}`, undefined, as(keys[role]));
      expect(one.status).toBe(200);
      expect(one.body.state).toBe("succeeded");
      expect(one.body.output).toBeUndefined();
      expect(one.body.outputRedacted).toMatch(/analyst and admin API keys only/);
      expect(JSON.stringify(one.body)).not.toContain(encoded);
      const list = await request(ctl, "GET", `/api/v1/commands?agent=${AGENT}`, undefined, as(keys[role]));
      expect(list.body.items.some((c: { id: string }) => c.id === cmd.id)).toBe(true);
      expect(JSON.stringify(list.body)).not.toContain(encoded);
      // The spooled command_result event is stored without the output.
      const events = await request(ctl, "GET", `/api/v1/events?agent=${AGENT}&type=agent`, undefined, as(keys[role]));
      expect(events.status, JSON.stringify(events.body)).toBe(200);
      expect(JSON.stringify(events.body)).toContain(cmd.id);
      expect(JSON.stringify(events.body)).not.toContain(encoded);
    }
    // The case's story: its evidence panel.
    const story = await request(ctl, "GET", "/api/v1/cases/case-ev-1", undefined, as(keys.analyst));
    expect(story.status, JSON.stringify(story.body)).toBe(200);
    expect(story.body.evidence).toEqual([expect.objectContaining({ commandId: cmd.id, output })]);
    for (const role of ["readonly", "integration"] as const) {
      const hidden = await request(ctl, "GET", "/api/v1/cases/case-ev-1", undefined, as(keys[role]));
      expect(hidden.status).toBe(200);
      expect(hidden.body.evidence).toEqual([expect.objectContaining({ commandId: cmd.id })]);
      expect(hidden.body.evidence[0].output).toBeUndefined();
      expect(JSON.stringify(hidden.body)).not.toContain(encoded);
    }
    // Push channels: the stream (even an analyst's) and the webhook carry the state change, not the evidence.
    await waitFor("stream notice", () => stream.data("commands").find((m) => m.data?.id === cmd.id && m.data?.state === "succeeded"));
    await waitFor("readonly events stream", () => roStream.data("events").find((m) => JSON.stringify(m).includes(cmd.id)));
    await waitFor("webhook", () => rx.at("/siem").find((r) => r.body.includes(cmd.id) && r.body.includes("succeeded")));
    expect(JSON.stringify(stream.messages)).not.toContain(encoded);
    expect(JSON.stringify(roStream.messages)).not.toContain(encoded);
    expect(
      rx
        .at("/siem")
        .map((r) => r.body)
        .join("\n"),
    ).not.toContain(encoded);
    stream.close();
    roStream.close();

    // The reason and the file are in the audit trail.
    const audit = await request(ctl, "GET", "/api/v1/audit?action=command.issued&limit=100");
    const rec = audit.body.items.find((a: { details: { commandId?: string } }) => a.details.commandId === cmd.id);
    expect(rec.details).toMatchObject({ type: "collect_evidence", reason: "incident 7: read the dropper's notes", filePath: "/tmp/notes.txt" });
  });

  it("a playbook cannot fetch file contents, and its preset params are validated at save", async () => {
    const yaml = (params: string) => `id: pb-ev\nname: evidence\nwhen: { minScore: 50 }\napproval: analyst\nactions:\n  - type: collect_evidence\n    params: ${params}\n`;
    const withFile = await request(ctl, "POST", "/api/v1/playbooks", { yaml: yaml("{ filePath: /etc/hostname, reason: auto }") });
    expect(withFile.status).toBe(400);
    expect(withFile.body.message).toMatch(/actions\[0\]\.params\.filePath: a playbook cannot fetch file contents/);
    const huge = await request(ctl, "POST", "/api/v1/playbooks", { yaml: yaml(`{ sha256Paths: ["/${"a".repeat(5000)}"] }`) });
    expect(huge.status).toBe(400);
    expect(huge.body.message).toMatch(/actions\[0\]\.params\.sha256Paths\[0\]: longer than 4096 bytes/);
    const unknown = await request(ctl, "POST", "/api/v1/playbooks", { yaml: yaml("{ everything: true }") });
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toMatch(/actions\[0\]\.params\.everything: unknown parameter/);
    const fine = await request(ctl, "POST", "/api/v1/playbooks", { yaml: yaml("{ processes: true, sha256Paths: [/usr/bin/ls] }") });
    expect(fine.status, JSON.stringify(fine.body)).toBe(201);
  });

  it("file fetching can be granted to analysts by config, never to readonly or integration keys", async () => {
    for (const bad of ["readonly", "admin,integration", "root"])
      expect(() => loadConfig({ dataDir: "/tmp/unused" }, { VIGIL_EVIDENCE_FILE_ROLES: bad })).toThrow(/VIGIL_EVIDENCE_FILE_ROLES: expected admin and\/or analyst/);
    const open = await startTestController({ env: { VIGIL_EVIDENCE_FILE_ROLES: "analyst" } });
    try {
      const analyst = (await open.security.apiKeys.create("analyst", "ir", "test")).key;
      const integration = (await open.security.apiKeys.create("integration", "siem", "test")).key;
      const raw = new RawAgent(open.grpcPort);
      raw.hello("ev-agent-2");
      await waitFor("welcome", () => raw.received.length > 0);
      const body = { type: "collect_evidence", params: { filePath: "/tmp/notes.txt", reason: "IR on call" } };
      expect((await request(open, "POST", "/api/v1/agents/ev-agent-2/commands", body, as(analyst))).status).toBe(202);
      expect((await request(open, "POST", "/api/v1/agents/ev-agent-2/commands", body)).status).toBe(202);
      expect((await request(open, "POST", "/api/v1/agents/ev-agent-2/commands", body, as(integration))).status).toBe(403);
      raw.close();
    } finally {
      await open.dispose();
    }
  });
});
