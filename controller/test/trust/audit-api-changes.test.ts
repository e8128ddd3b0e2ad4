import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";

describe("audit: API changes are recorded in the hash chain", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController();
  });
  afterAll(async () => ctl?.dispose());

  it("records a suppression, an IOC submission and a rule toggle with the acting key, keeping secrets out", async () => {
    const sup = await request(ctl, "POST", "/api/v1/suppressions", { ruleId: "895fed99-f646-4f2c-90d6-cdcade3a6d70", fields: { SourceIp: "10.0.0.0/8" }, reason: "internal scanner" });
    expect(sup.status).toBe(201);
    const iocs = await request(ctl, "POST", "/api/v1/iocs", [{ type: "ip", value: "203.0.113.99", confidence: 90 }]);
    expect(iocs.status).toBeLessThan(300);
    const off = await request(ctl, "POST", "/api/v1/rules/895fed99-f646-4f2c-90d6-cdcade3a6d70/disable");
    expect(off.status).toBeLessThan(300);
    const trail = await request(ctl, "GET", "/api/v1/audit?limit=50");
    const actions = trail.body.items.map((r: { action: string }) => r.action);
    expect(actions).toEqual(expect.arrayContaining(["suppressions.created", "iocs.created", "rules.disable"]));
    const rec = trail.body.items.find((r: { action: string }) => r.action === "suppressions.created");
    expect(rec.actor).toMatch(/^apikey:/);
    expect(rec.details.reason).toBe("internal scanner");
    const verify = await request(ctl, "GET", "/api/v1/audit/verify");
    expect(verify.body.ok).toBe(true);
  });
});
