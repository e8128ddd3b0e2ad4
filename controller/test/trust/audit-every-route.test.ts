import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTROLLERS } from "../../src/app/app.module";
import { READ_ONLY_METHODS, routeTable, type RouteInfo } from "../../src/http/route-table";
import { startTestController, type TestController } from "../support/controller";
import { rawRequest } from "../support/raw-http";

/**
 * Issue #10 class 4: state changes escaped the audit trail when the URL was
 * spelled differently (POST /API/V1/RULES ...). Every mutating route of the
 * app's route table is sent in every spelling an attacker would try; each
 * request is either refused (4xx, no record) or leaves exactly one record.
 */
const BUILTIN_RULE = "895fed99-f646-4f2c-90d6-cdcade3a6d70";
const sigma = (n: number) =>
  `title: Audit variant ${n}\nid: 6d1f0000-0000-4000-8000-${String(n).padStart(12, "0")}\nlogsource: {product: linux}\ndetection:\n  sel: {Image: /bin/variant${n}}\n  condition: sel\nlevel: low\n`;

type Variant = { name: string; spell: (segments: string[], route: RouteInfo) => string };

/** Spellings of one concrete path; fixed segments are changed, parameters kept as they are. */
const VARIANTS: Variant[] = [
  { name: "canonical", spell: (s) => "/" + s.join("/") },
  { name: "upper case", spell: (s, r) => "/" + s.map((x, i) => ("literal" in r.segments[i]! ? x.toUpperCase() : x)).join("/") },
  { name: "mixed case", spell: (s, r) => "/" + s.map((x, i) => ("literal" in r.segments[i]! ? [...x].map((c, j) => (j % 2 ? c.toUpperCase() : c)).join("") : x)).join("/") },
  { name: "%-encoded letters", spell: (s, r) => "/" + s.map((x, i) => ("literal" in r.segments[i]! ? x.replace(/[a-z]/g, (c) => "%" + c.charCodeAt(0).toString(16)) : x)).join("/") },
  { name: "doubled slashes", spell: (s) => "//" + s.join("//") },
  { name: "trailing slash", spell: (s) => "/" + s.join("/") + "/" },
];

/** Paths that could mean two things: refused before routing. */
const AMBIGUOUS: Array<(s: string[]) => string> = [
  (s) => "/" + [...s.slice(0, -1), "..", ...s.slice(-1), s.at(-1)!].join("/"),
  (s) => "/" + [s[0], ".", ...s.slice(1)].join("/"),
  (s) => "/" + s.slice(0, 2).join("/") + "%2F" + s.slice(2).join("/"),
  (s) => "/" + s.slice(0, 2).join("/") + "%2f" + s.slice(2).join("/"),
];

interface Call {
  params?: Record<string, string>;
  query?: string;
  body?: string;
  contentType?: string;
}

describe("audit: every mutating route, in every spelling, is refused or audited exactly once", () => {
  let ctl: TestController;
  let n = 0;
  const routes = routeTable(CONTROLLERS);
  const mutating = routes.filter((r) => !READ_ONLY_METHODS.has(r.method));

  const api = (method: string, path: string, body?: unknown) => rawRequest(ctl.httpUrl, method, path, { key: ctl.adminKey, body: body === undefined ? undefined : JSON.stringify(body) });
  const auditCount = async () => {
    await ctl.audit.idle();
    const [row] = (await ctl.dataSource.query("SELECT COUNT(*) AS n FROM audit_log")) as Array<{ n: number | string }>;
    return Number(row!.n);
  };

  /** A request that can succeed, per route; routes without one are still sent (and must then be refused without a record). */
  const fixtures: Record<string, () => Promise<Call>> = {
    "POST /api/v1/rules": async () => ({ query: `name=variant-${++n}.yml`, body: sigma(n), contentType: "text/yaml" }),
    "PATCH /api/v1/rules/:id": async () => ({ params: { id: BUILTIN_RULE }, body: JSON.stringify({ enabled: true }) }),
    "POST /api/v1/rules/:id/enable": async () => ({ params: { id: BUILTIN_RULE } }),
    "POST /api/v1/rules/:id/disable": async () => ({ params: { id: BUILTIN_RULE } }),
    "DELETE /api/v1/rules/:id": async () => {
      const m = ++n;
      expect((await rawRequest(ctl.httpUrl, "POST", `/api/v1/rules?name=del-${m}.yml`, { key: ctl.adminKey, body: sigma(m), contentType: "text/yaml" })).status).toBe(201);
      return { params: { id: `6d1f0000-0000-4000-8000-${String(m).padStart(12, "0")}` } };
    },
    "POST /api/v1/suppressions": async () => ({ body: JSON.stringify({ ruleId: BUILTIN_RULE, fields: { SourceIp: `10.${++n % 250}.0.0/16` }, reason: "scanner" }) }),
    "DELETE /api/v1/suppressions/:id": async () => {
      const r = await api("POST", "/api/v1/suppressions", { ruleId: BUILTIN_RULE, fields: { SourceIp: "192.0.2.0/24" }, reason: "to delete" });
      expect(r.status).toBe(201);
      return { params: { id: r.body.id } };
    },
    "POST /api/v1/iocs": async () => ({ query: "source=variants", body: JSON.stringify([{ type: "ip", value: `203.0.113.${++n % 250}` }]) }),
    "POST /api/v1/iocs/import": async () => ({ query: "source=feed", body: `198.51.100.${++n % 250}\n`, contentType: "text/plain" }),
    "DELETE /api/v1/iocs/:id": async () => {
      const src = `one-${++n}`;
      await api("POST", `/api/v1/iocs?source=${src}`, [{ type: "domain", value: `x${n}.example.org` }]);
      const list = await api("GET", `/api/v1/iocs?source=${src}`);
      return { params: { id: String(list.body.items[0].id) } };
    },
    "DELETE /api/v1/iocs": async () => {
      const src = `bulk-${++n}`;
      await api("POST", `/api/v1/iocs?source=${src}`, [{ type: "domain", value: `y${n}.example.org` }]);
      return { query: `source=${src}` };
    },
    "POST /api/v1/apikeys": async () => ({ body: JSON.stringify({ role: "readonly", name: `variant ${++n}` }) }),
    "DELETE /api/v1/apikeys/:id": async () => ({ params: { id: (await ctl.security.apiKeys.create("readonly", "to revoke", "test")).view.id } }),
    "POST /api/v1/enrollment-tokens": async () => ({ body: JSON.stringify({}) }),
    "POST /api/v1/webhooks": async () => ({ body: JSON.stringify({ name: `hook ${++n}`, url: "http://127.0.0.1:9/hook", secret: "s3cret-for-tests-0123456789" }) }),
  };

  const send = async (route: RouteInfo, path: string, call: Call) => {
    const q = call.query ? `?${call.query}` : "";
    const body = call.body ?? (route.method === "DELETE" ? undefined : "{}");
    return rawRequest(ctl.httpUrl, route.method, path + q, { key: ctl.adminKey, body, contentType: call.contentType });
  };
  const concrete = (route: RouteInfo, call: Call) => route.segments.map((s) => ("literal" in s ? s.literal : "param" in s ? encodeURIComponent(call.params?.[s.param] ?? "nonexistent") : "x"));

  beforeAll(async () => {
    // Several hundred requests with one key: lift the per-key rate so no fixture is refused with 429.
    ctl = await startTestController({ env: { VIGIL_API_RATE: "10000", VIGIL_API_BURST: "10000" } });
  });
  afterAll(async () => ctl?.dispose());

  it("the route table is every route Express serves", () => {
    const router = (ctl.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router;
    const served = router.stack
      .filter((l) => l.route)
      .flatMap((l) =>
        Object.keys(l.route!.methods)
          .filter((m) => m !== "_all")
          .map((m) => `${m.toUpperCase()} ${l.route!.path}`),
      );
    const table = new Set(routes.map((r) => `${r.method} ${r.path}`));
    const missing = served.filter((s) => !table.has(s) && !s.startsWith("GET /api/docs"));
    expect(missing).toEqual([]);
    expect(mutating.length).toBeGreaterThan(30);
  });

  it("each mutating route in each spelling: 2xx leaves one record, anything else none", async () => {
    const outcomes: string[] = [];
    const succeeded = new Map<string, number>();
    for (const route of mutating) {
      const key = `${route.method} ${route.path}`;
      for (const v of VARIANTS) {
        const call = (await fixtures[key]?.()) ?? {};
        const path = v.spell(concrete(route, call), route);
        const before = await auditCount();
        const res = await send(route, path, call);
        const delta = (await auditCount()) - before;
        outcomes.push(`${key} [${v.name}] ${res.status} +${delta}`);
        if (res.status < 300) succeeded.set(key, (succeeded.get(key) ?? 0) + 1);
        expect(delta, `${route.method} ${path} → ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`).toBe(res.status < 300 ? 1 : 0);
      }
    }
    // The routes of the reported attack really changed state in every spelling (and were audited).
    for (const key of Object.keys(fixtures)) expect(succeeded.get(key), `${key}: ${outcomes.filter((o) => o.startsWith(key + " ")).join("; ")}`).toBe(VARIANTS.length);
  });

  it("ambiguous spellings (., .., encoded /) are refused with 400 and change nothing", async () => {
    for (const route of mutating) {
      const call = (await fixtures[`${route.method} ${route.path}`]?.()) ?? {};
      for (const spell of AMBIGUOUS) {
        const path = spell(concrete(route, call));
        const before = await auditCount();
        const res = await send(route, path, call);
        expect(res.status, `${route.method} ${path}`).toBe(400);
        expect(await auditCount()).toBe(before);
      }
    }
  });

  it("records say what changed: rule ids and the YAML's sha256, IOC counts and source, suppression ids", async () => {
    const yaml = sigma(9999);
    const up = await rawRequest(ctl.httpUrl, "POST", "/API/V1/RULES?name=what.yml", { key: ctl.adminKey, body: yaml, contentType: "text/yaml" });
    expect(up.status).toBe(201);
    const { createHash } = await import("node:crypto");
    await ctl.audit.idle();
    const [rec] = await ctl.audit.query({ action: "rules.created", limit: 1 });
    const d = JSON.parse(rec!.details);
    expect(d.sha256).toBe(createHash("sha256").update(yaml).digest("hex"));
    expect(d.result.rules).toEqual(["6d1f0000-0000-4000-8000-000000009999"]);
    expect(rec!.actor).toMatch(/^apikey:/);

    const imp = await rawRequest(ctl.httpUrl, "POST", "/Api/V1/%69ocs/Import?source=abuse-feed", { key: ctl.adminKey, body: "198.51.100.77\n198.51.100.78\n", contentType: "text/plain" });
    expect(imp.status).toBeLessThan(300);
    await ctl.audit.idle();
    const [irec] = await ctl.audit.query({ action: "iocs.import", limit: 1 });
    const id = JSON.parse(irec!.details);
    expect(id.query.source).toBe("abuse-feed");
    expect(Object.values(id.result).some((v) => v === 2)).toBe(true);

    const sup = await api("POST", "/API/v1/SUPPRESSIONS", { ruleId: BUILTIN_RULE, fields: { SourceIp: "10.9.9.0/24" }, reason: "what changed" });
    await ctl.audit.idle();
    const [srec] = await ctl.audit.query({ action: "suppressions.created", limit: 1 });
    expect(JSON.parse(srec!.details).result.id).toBe(sup.body.id);
    expect((await ctl.audit.verify()).ok).toBe(true);
  });
});
