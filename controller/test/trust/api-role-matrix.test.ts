import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";

/** Who may change what: each role is refused (403) where it has no business, before any handler runs. */
describe("API roles: the write matrix", () => {
  let ctl: TestController;
  const keys: Record<string, string> = {};
  beforeAll(async () => {
    ctl = await startTestController();
    for (const role of ["analyst", "integration", "readonly"] as const) keys[role] = (await ctl.security.apiKeys.create(role, `matrix-${role}`, "test")).key;
  });
  afterAll(async () => ctl?.dispose());

  const as = (role: string, method: string, path: string, body: unknown = {}) => request(ctl, method, path, body, { authorization: `Bearer ${keys[role]}` });

  const ADMIN_ONLY: Array<[string, string]> = [
    ["POST", "/api/v1/rules"],
    ["POST", "/api/v1/playbooks"],
    ["PUT", "/api/v1/agent-policy"],
    ["POST", "/api/v1/webhooks"],
    ["POST", "/api/v1/apikeys"],
    ["POST", "/api/v1/enrollment-tokens"],
    ["POST", "/api/v1/suppressions"],
    ["PUT", "/api/v1/agents/some-agent/tags"],
  ];
  const ANALYST_ACTS: Array<[string, string]> = [
    ["POST", "/api/v1/agents/some-agent/isolate"],
    ["POST", "/api/v1/agents/some-agent/commands"],
    ["POST", "/api/v1/cases/some-case/state"],
    ["POST", "/api/v1/alerts/some-alert/ack"],
    ["POST", "/api/v1/alerts/some-alert/feedback"],
    ["POST", "/api/v1/playbook-actions/some-action/approve"],
    ["POST", "/api/v1/commands/some-command/undo"],
  ];

  it.each(ADMIN_ONLY)("analyst and integration get 403 on %s %s", async (method, path) => {
    expect((await as("analyst", method, path)).status).toBe(403);
    expect((await as("integration", method, path)).status).toBe(403);
  });

  it.each(ANALYST_ACTS)("integration and readonly get 403 on %s %s; analyst gets past the guard", async (method, path) => {
    expect((await as("integration", method, path)).status).toBe(403);
    expect((await as("readonly", method, path)).status).toBe(403);
    expect((await as("analyst", method, path)).status).not.toBe(403);
  });

  it("integration may submit IOCs; readonly may not", async () => {
    expect((await as("integration", "POST", "/api/v1/iocs", [{ type: "ip", value: "203.0.113.200" }])).status).toBeLessThan(300);
    expect((await as("readonly", "POST", "/api/v1/iocs", [{ type: "ip", value: "203.0.113.201" }])).status).toBe(403);
    expect((await request(ctl, "GET", "/api/v1/iocs", undefined, { authorization: `Bearer ${keys.readonly}` })).status).toBe(200);
  });
});
