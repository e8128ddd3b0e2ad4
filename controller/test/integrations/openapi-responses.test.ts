import Ajv, { type ValidateFunction } from "ajv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestController } from "../support/controller";
import type { RawAgent } from "../support/raw-agent";
import { clock, connect, exec, MIN, send, settled, sshFailure, sshSuccess, startDetectionController, T0 } from "../detection/support";

type Json = Record<string, any>;

/**
 * Closes every object schema that lists its properties (additionalProperties: false) unless it is
 * open on purpose: a field a service adds to its answer without its schema then fails here.
 */
function closed(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(closed);
  if (!s || typeof s !== "object") return s;
  const out: Json = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === "properties" ? Object.fromEntries(Object.entries(v as Json).map(([p, ps]) => [p, closed(ps)])) : closed(v)]));
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/**
 * Real answers of a running controller, checked against the schemas of the document it serves:
 * every call's status must be documented and its body must match that status's schema exactly.
 */
describe("real responses match the served OpenAPI document", () => {
  let ctl: TestController;
  let doc: Json;
  let agent: RawAgent;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const validators = new Map<string, ValidateFunction>();
  const seen = new Set<string>();

  /** Calls the API and validates the answer against the document; returns the body. */
  async function call(method: string, template: string, opts: { path?: Record<string, string>; query?: string; body?: unknown; text?: string; type?: string; expect?: number } = {}): Promise<any> {
    const url = ctl.httpUrl + template.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(opts.path?.[n] ?? "")) + (opts.query ? `?${opts.query}` : "");
    const headers: Record<string, string> = { authorization: `Bearer ${ctl.adminKey}` };
    let body: string | undefined;
    if (opts.text !== undefined) {
      headers["content-type"] = opts.type ?? "text/plain";
      body = opts.text;
    } else if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(url, { method: method.toUpperCase(), headers, body });
    const text = await res.text();
    const where = `${method} ${template} -> ${res.status}`;
    if (opts.expect !== undefined) expect(res.status, `${where}: ${text.slice(0, 300)}`).toBe(opts.expect);
    const op = doc.paths[template]?.[method];
    expect(op, `${method} ${template} is documented`).toBeTruthy();
    const resp = op.responses[String(res.status)];
    expect(resp, `${where} is a documented status`).toBeTruthy();
    if (res.status === 204) return undefined;
    const media = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    expect(Object.keys(resp.content ?? {}), `${where}: served as ${media}`).toContain(media);
    if (media !== "application/json") return text;
    const key = `${method} ${template} ${res.status}`;
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile({ ...(closed(resp.content[media].schema) as Json), components: { schemas: closed(doc.components.schemas) } });
      validators.set(key, validate);
    }
    const parsed = JSON.parse(text) as unknown;
    const ok = validate(parsed);
    expect(ok ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`), `${where}: ${text.slice(0, 400)}`).toEqual([]);
    seen.add(key);
    return parsed;
  }

  beforeAll(async () => {
    ctl = await startDetectionController();
    doc = (await (await fetch(`${ctl.httpUrl}/api/docs/openapi.json`)).json()) as Json;
    // A playbook that asks an analyst before isolating: its decisions are in the case story.
    const pb = "id: pb-openapi\nname: Isolate on high score\nenabled: true\nwhen:\n  minScore: 10\nactions:\n  - type: isolate\n    params: {}\napproval: analyst\n";
    await call("post", "/api/v1/playbooks", { body: { yaml: pb }, expect: 201 });
    agent = await connect(ctl, "openapi-1", ["web"]);
    const ip = "203.0.113.60";
    const t0 = Math.floor(T0 / (10 * MIN)) * 10 * MIN;
    await send(agent, 1, [
      ...Array.from({ length: 6 }, (_, i) => sshFailure(t0 + i * 20_000, ip, "alice")),
      sshSuccess(t0 + 5 * MIN, ip, "alice"),
      exec(t0 + 6 * MIN, "/tmp/dropper"),
      clock(t0 + 3 * 60 * MIN),
    ]);
    await settled(ctl);
  }, 120_000);
  afterAll(async () => {
    agent?.close();
    await ctl?.dispose();
  });

  it("health, agents and events", async () => {
    expect((await call("get", "/api/v1/healthz", { expect: 200 })).status).toBe("ok");
    expect((await call("get", "/api/v1/agents", { expect: 200 })).items).toHaveLength(1);
    await call("get", "/api/v1/agents/{id}", { path: { id: "openapi-1" }, expect: 200 });
    await call("put", "/api/v1/agents/{id}/tags", { path: { id: "openapi-1" }, body: { tags: ["web", "prod"] }, expect: 200 });
    await call("get", "/api/v1/agents/{id}/inventory", { path: { id: "openapi-1" }, expect: 404 });
    await call("get", "/api/v1/agents/{id}", { path: { id: "nope" }, expect: 404 });
    const events = await call("get", "/api/v1/events", { query: "limit=5", expect: 200 });
    expect(events.items.length).toBe(5);
    await call("get", "/api/v1/events", { query: `cursor=${events.nextCursor}&agent=openapi-1&type=auth`, expect: 200 });
    await call("get", "/api/v1/events", { query: "agent=openapi-1&seq=1,2,3", expect: 200 });
    await call("get", "/api/v1/events", { query: "limit=abc", expect: 400 });
  });

  it("alerts and cases, with feedback and state changes", async () => {
    const alerts = await call("get", "/api/v1/alerts", { query: "sort=score&limit=10", expect: 200 });
    expect(alerts.items.length).toBeGreaterThanOrEqual(2);
    expect(typeof alerts.items[0].score).toBe("number");
    const [first, second] = alerts.items as Array<{ id: string; caseId: string }>;
    await call("get", "/api/v1/alerts/{id}", { path: { id: first!.id }, expect: 200 });
    await call("post", "/api/v1/alerts/{id}/ack", { path: { id: first!.id }, expect: 200 });
    await call("post", "/api/v1/alerts/{id}/feedback", { path: { id: first!.id }, body: { verdict: "true_positive", note: "confirmed" }, expect: 200 });
    await call("post", "/api/v1/alerts/{id}/feedback", { path: { id: second!.id }, body: { verdict: "false_positive", createSuppression: true }, expect: 200 });
    await call("get", "/api/v1/alerts/{id}", { path: { id: first!.id }, expect: 200 });
    const cases = await call("get", "/api/v1/cases", { expect: 200 });
    const story = await call("get", "/api/v1/cases/{id}", { path: { id: cases.items[0].id }, expect: 200 });
    expect(story.timeline.length).toBeGreaterThan(0);
    await call("post", "/api/v1/cases/{id}/title", { path: { id: cases.items[0].id }, body: { title: "Brute force on openapi-1" }, expect: 200 });
    await call("post", "/api/v1/cases/{id}/state", { path: { id: cases.items[0].id }, body: { state: "acknowledged" }, expect: 200 });
    await call("get", "/api/v1/entities", { query: "sort=risk", expect: 200 });
    await call("get", "/api/v1/alerts", { query: "state=bogus", expect: 400 });
  });

  it("commands and playbooks", async () => {
    const cmd = await call("post", "/api/v1/agents/{id}/commands", {
      path: { id: "openapi-1" },
      body: { type: "kill_process", params: { pid: 4321, startTimeMs: 1_700_000_000_000 }, ttlSeconds: 600 },
      expect: 202,
    });
    await call("get", "/api/v1/commands/{id}", { path: { id: cmd.id }, expect: 200 });
    await call("get", "/api/v1/commands", { query: "agent=openapi-1", expect: 200 });
    await call("post", "/api/v1/agents/{id}/isolate", { path: { id: "openapi-1" }, body: { allowCidrs: ["10.0.0.0/8"], reason: "test" }, expect: 202 });
    await call("post", "/api/v1/agents/{id}/release", { path: { id: "openapi-1" }, expect: 202 });
    await call("post", "/api/v1/commands/{id}/undo", { path: { id: cmd.id }, expect: 409 });
    await call("post", "/api/v1/agents/{id}/commands", { path: { id: "openapi-1" }, body: { type: "kill_process", params: {} }, expect: 400 });
    await call("get", "/api/v1/playbooks", { expect: 200 });
    await call("get", "/api/v1/playbooks/{id}", { path: { id: "pb-openapi" }, expect: 200 });
    const actions = await call("get", "/api/v1/playbook-actions", { query: "state=pending", expect: 200 });
    expect(actions.items.length).toBeGreaterThan(0);
    await call("post", "/api/v1/playbook-actions/{id}/reject", { path: { id: actions.items[0].id }, expect: 201 });
    await call("put", "/api/v1/playbooks/{id}", {
      path: { id: "pb-openapi" },
      body: { yaml: "id: pb-openapi\nname: Off\nenabled: false\nwhen:\n  minScore: 90\nactions:\n  - type: isolate\napproval: analyst\n" },
      expect: 200,
    });
    const cases = await call("get", "/api/v1/cases", { expect: 200 });
    await call("get", "/api/v1/cases/{id}", { path: { id: cases.items[0].id }, expect: 200 });
    await call("delete", "/api/v1/playbooks/{id}", { path: { id: "pb-openapi" }, expect: 204 });
    await call("get", "/api/v1/agent-policy", { expect: 200 });
    await call("put", "/api/v1/agent-policy", { body: { rules: [{ id: "545f0eb8-bc7b-4ddb-9a82-d6cbcc32a051" }], includeIocs: true, actions: [] }, expect: 200 });
    await call("get", "/api/v1/agent-policy", { expect: 200 });
  });

  it("rules, IOCs and suppressions", async () => {
    const rules = await call("get", "/api/v1/rules", { query: "origin=builtin", expect: 200 });
    await call("get", "/api/v1/rules/{id}", { path: { id: rules.items[0].id }, expect: 200 });
    await call("post", "/api/v1/rules/{id}/disable", { path: { id: rules.items[0].id }, expect: 200 });
    await call("patch", "/api/v1/rules/{id}", { path: { id: rules.items[0].id }, body: { enabled: true }, expect: 200 });
    await call("get", "/api/v1/rules/stats", { expect: 200 });
    const rule =
      "title: OpenAPI test rule\nid: 0f9a3c1e-5b7d-4e2a-9c8b-1d2e3f4a5b6c\nstatus: test\nlevel: low\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: /openapi-test\n  condition: sel\n";
    await call("post", "/api/v1/rules", { text: rule, type: "text/yaml", query: "name=openapi.yml", expect: 201 });
    await call("post", "/api/v1/rules", { text: "title: [broken", type: "text/yaml", expect: 400 });
    await call("delete", "/api/v1/rules/{id}", { path: { id: "0f9a3c1e-5b7d-4e2a-9c8b-1d2e3f4a5b6c" }, expect: 200 });
    await call("post", "/api/v1/iocs", {
      body: [
        { type: "ip", value: "198.51.100.7" },
        { type: "nope", value: "x" },
      ],
      query: "source=openapi",
      expect: 201,
    });
    await call("post", "/api/v1/iocs/import", { text: "type,value\ndomain,evil.example\nurl,http://x/\n", type: "text/csv", query: "source=csv-feed", expect: 201 });
    const iocs = await call("get", "/api/v1/iocs", { expect: 200 });
    await call("delete", "/api/v1/iocs/{id}", { path: { id: iocs.items[0].id }, expect: 200 });
    await call("delete", "/api/v1/iocs", { query: "source=csv-feed", expect: 200 });
    const s = await call("post", "/api/v1/suppressions", { body: { reason: "scanner", ruleId: "x*", agentTags: ["web"], expiresAt: "2099-01-01T00:00:00Z" }, expect: 201 });
    await call("get", "/api/v1/suppressions", { expect: 200 });
    await call("get", "/api/v1/suppressions/{id}", { path: { id: s.id }, expect: 200 });
    await call("delete", "/api/v1/suppressions/{id}", { path: { id: s.id }, expect: 200 });
  });

  it("webhooks, keys, enrollment, audit, and the text routes", async () => {
    const wh = await call("post", "/api/v1/webhooks", { body: { name: "openapi", url: "http://127.0.0.1:9/hook", enabled: false }, expect: 201 });
    await call("get", "/api/v1/webhooks", { expect: 200 });
    await call("patch", "/api/v1/webhooks/{id}", { path: { id: wh.id }, body: { minScore: 40 }, expect: 200 });
    await call("post", "/api/v1/webhooks/{id}/test", { path: { id: wh.id }, expect: 202 });
    await call("get", "/api/v1/webhooks/{id}/deliveries", { path: { id: wh.id }, expect: 200 });
    await call("get", "/api/v1/webhooks/{id}/dead-letters", { path: { id: wh.id }, expect: 200 });
    await call("post", "/api/v1/webhooks/{id}/dead-letters/retry", { path: { id: wh.id }, expect: 202 });
    await call("get", "/api/v1/webhooks/{id}", { path: { id: wh.id }, expect: 200 });
    await call("delete", "/api/v1/webhooks/{id}", { path: { id: wh.id }, expect: 204 });
    const key = await call("post", "/api/v1/apikeys", { body: { role: "readonly", name: "openapi" }, expect: 201 });
    await call("get", "/api/v1/apikeys", { expect: 200 });
    await call("delete", "/api/v1/apikeys/{id}", { path: { id: key.id }, expect: 200 });
    await call("post", "/api/v1/enrollment-tokens", { body: { ttl: "1h", uses: 2, tags: ["web"] }, expect: 201 });
    await call("get", "/api/v1/enrollment-tokens", { expect: 200 });
    await call("get", "/api/v1/trust/ca", { expect: 200 });
    await call("get", "/api/v1/audit", { query: "limit=5", expect: 200 });
    await call("get", "/api/v1/audit/verify", { expect: 200 });
    expect(await call("get", "/api/v1/audit/export", { expect: 200 })).toMatch(/^\{"seq":1,/);
    expect(await call("get", "/metrics", { expect: 200 })).toMatch(/# TYPE /);
    const unauthorised = await fetch(`${ctl.httpUrl}/api/v1/alerts`);
    expect(unauthorised.status).toBe(401);
    expect(Object.keys((await unauthorised.json()) as Json).every((k) => k in doc.components.schemas.Error.properties)).toBe(true);
  });

  it("covered the main resources", () => {
    const resources = ["agents", "alerts", "cases", "events", "commands", "playbooks", "rules", "iocs", "webhooks", "audit", "healthz"];
    for (const r of resources)
      expect(
        [...seen].some((k) => k.includes(`/api/v1/${r}`) && / 2\d\d$/.test(k)),
        r,
      ).toBe(true);
  });
});
