import { createPublicKey, verify } from "node:crypto";
import { policySigningPayload, type PolicyUpdate } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

const REVERSE_SHELL_RULE_FILE = "lnx_reverse_shell";

function policiesOf(a: RawAgent): PolicyUpdate[] {
  return a.received.flatMap((m) => (m.msg?.$case === "policy" ? [m.msg.policy] : []));
}

describe("agent policy: signed per agent, pushed on change and on connect", () => {
  let ctl: TestController;
  let ruleId: string;
  beforeAll(async () => {
    ctl = await startTestController();
    const { BUILTIN_RULES } = await import("@vigil/detection");
    const file = BUILTIN_RULES.find((r) => r.name.includes(REVERSE_SHELL_RULE_FILE)) ?? BUILTIN_RULES[0];
    ruleId = /^id:\s*(\S+)/m.exec(file.text)![1];
  });
  afterAll(async () => ctl?.dispose());

  it("pushes a new version to connected agents and the current one to agents that connect later", async () => {
    const early = new RawAgent(ctl.grpcPort);
    early.hello("early-agent");
    await waitFor("welcome", () => early.received.length > 0);
    const put = await request(ctl, "PUT", "/api/v1/agent-policy", { rules: [{ id: ruleId }], includeIocs: true, actions: [{ ruleId, actions: [{ type: "kill_process" }, { type: "isolate" }] }] });
    expect(put.status).toBe(200);
    expect(put.body.version).toBe(1);
    const p = await waitFor("policy on the early agent", () => policiesOf(early)[0]);
    const doc = JSON.parse(p.policyJson);
    expect(doc.version).toBe(1);
    expect(doc.rules[0].id).toBe(ruleId);
    expect(doc.rules[0].yaml).toContain(`id: ${ruleId}`);
    const key = createPublicKey({ key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), ctl.signer.publicKeyRaw]), format: "der", type: "spki" });
    expect(verify(null, policySigningPayload(p, "early-agent"), key, p.signature)).toBe(true);
    // Signed for this agent only: the same bytes do not verify for another agent.
    expect(verify(null, policySigningPayload(p, "other-agent"), key, p.signature)).toBe(false);

    const late = new RawAgent(ctl.grpcPort);
    late.hello("late-agent");
    const lp = await waitFor("policy on connect", () => policiesOf(late)[0]);
    expect(lp.version).toBe(1);
    early.close();
    late.close();
  });

  it.each([
    [{ rules: [{ id: "no-such-rule" }], actions: [] }, /rules\[0\]\.id/],
    [{ rules: [], actions: [{ ruleId: "x", actions: [{ type: "isolate" }] }] }, /actions\[0\]\.ruleId/],
    [{ rules: [{ id: "r", yaml: "title: broken\n  - : :" }], actions: [] }, /rules\[0\]/],
    [{ rules: [], actions: [], extra: 1 }, /extra: unknown field/],
  ])("400 naming the problem for %j", async (body, message) => {
    const r = await request(ctl, "PUT", "/api/v1/agent-policy", body);
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(message);
  });

  it("refuses rules whose YAML together exceeds what a policy may carry, naming the limit", async () => {
    const { MAX_POLICY_RULE_BYTES } = await import("@vigil/proto");
    const rule = (i: number) => ({
      id: `big-${i}`,
      yaml: [
        `title: big ${i}`,
        `id: big-${i}`,
        `description: ${"x".repeat(250_000)}`,
        "logsource: { product: linux, category: process_creation }",
        "detection:",
        "  sel: { Image: /bin/nothing }",
        "  condition: sel",
      ].join("\n"),
    });
    const rules = Array.from({ length: Math.ceil(MAX_POLICY_RULE_BYTES / 250_000) + 1 }, (_, i) => rule(i));
    const r = await request(ctl, "PUT", "/api/v1/agent-policy", { rules, actions: [] });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(new RegExp(`more than the ${MAX_POLICY_RULE_BYTES} an agent policy may carry`));
    const ok = await request(ctl, "PUT", "/api/v1/agent-policy", { rules: rules.slice(0, 2), actions: [] });
    expect(ok.status).toBe(200);
  });

  it("refuses release as a local action: agents never lift containment on their own", async () => {
    const r = await request(ctl, "PUT", "/api/v1/agent-policy", { rules: [{ id: ruleId }], actions: [{ ruleId, actions: [{ type: "release" }] }] });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/never releases/);
  });
});
