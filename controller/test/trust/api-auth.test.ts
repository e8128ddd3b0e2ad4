import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { METHOD_METADATA, PATH_METADATA } from "@nestjs/common/constants";
import { AppModule } from "../../src/app/app.module";
import { PUBLIC_KEY, ROLES, type Role } from "../../src/http/roles";
import { startTestController, type TestController } from "../support/controller";

type Route = { method: string; path: string; public: boolean };

const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "ALL", "OPTIONS", "HEAD"];

/**
 * Every route Nest serves, read from the controllers' own decorator metadata
 * (the same the router uses), so routes added later are covered without
 * editing this test. `@Public()` routes are expected to be open.
 */
function routes(): Route[] {
  const join = (...parts: string[]) =>
    "/" +
    parts
      .map((p) => p.replace(/^\/+|\/+$/g, ""))
      .filter(Boolean)
      .join("/");
  const controllers = (AppModule.with([]).controllers ?? []) as Array<new (...a: never[]) => object>;
  return controllers.flatMap((cls) => {
    const base = [Reflect.getMetadata(PATH_METADATA, cls) ?? ""].flat()[0] as string;
    const proto = cls.prototype as Record<string, unknown>;
    return Object.getOwnPropertyNames(proto).flatMap((name) => {
      const fn = proto[name];
      if (name === "constructor" || typeof fn !== "function" || Reflect.getMetadata(METHOD_METADATA, fn) === undefined) return [];
      const path = join(base, [Reflect.getMetadata(PATH_METADATA, fn) ?? ""].flat()[0] as string).replace(/:[A-Za-z0-9_]+/g, "no-such-id");
      return [{ method: METHODS[Reflect.getMetadata(METHOD_METADATA, fn) as number], path, public: !!(Reflect.getMetadata(PUBLIC_KEY, fn) || Reflect.getMetadata(PUBLIC_KEY, cls)) }];
    });
  });
}

async function call(ctl: TestController, r: Pick<Route, "method" | "path">, headers: Record<string, string>): Promise<number> {
  const res = await fetch(ctl.httpUrl + r.path, {
    method: r.method,
    headers: { ...headers, ...(r.method === "GET" ? {} : { "content-type": "application/json" }) },
    body: r.method === "GET" ? undefined : "{}",
  });
  await res.arrayBuffer();
  return res.status;
}

describe("API keys and roles on every route", () => {
  let ctl: TestController;
  const keys = {} as Record<Role, string>;
  beforeAll(async () => {
    ctl = await startTestController({ env: { VIGIL_API_RATE: "1000", VIGIL_API_BURST: "1000" } });
    for (const role of ROLES) keys[role] = (await ctl.security.apiKeys.create(role, `test ${role}`, "test")).key;
  });
  afterAll(async () => ctl?.dispose());

  it("the OpenAPI document declares the security schemes", async () => {
    const doc = (await (await fetch(`${ctl.httpUrl}/api/docs/openapi.json`)).json()) as { components: { securitySchemes: Record<string, { type: string }> }; security: unknown[] };
    expect(doc.components.securitySchemes.bearer.type).toBe("http");
    expect(doc.components.securitySchemes["api-key"].type).toBe("apiKey");
    expect(doc.security).toEqual([{ bearer: [] }, { "api-key": [] }]);
  });

  it("every route: no key 401, invalid key 401, admin through, no role ever 401 with a valid key, readonly 403 on anything but GET", async () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(8);
    expect(all).toContainEqual({ method: "POST", path: "/api/v1/apikeys", public: false });
    const problems: string[] = [];
    for (const r of all) {
      const name = `${r.method} ${r.path}`;
      const anon = await call(ctl, r, {});
      if (r.public || r.path === "/api/v1/healthz") {
        if (anon === 401 || anon === 403) problems.push(`${name}: a public route refused an anonymous request (${anon})`);
        continue;
      }
      if (anon !== 401) problems.push(`${name}: no key gave ${anon}, want 401`);
      // Failed attempts are rate limited per address (20 burst), so the invalid key is tried on a sample.
      if (all.indexOf(r) % 4 === 0) {
        const bad = await call(ctl, r, { authorization: "Bearer vk_0000000000000000_" + "x".repeat(43) });
        if (bad !== 401) problems.push(`${name}: an invalid key gave ${bad}, want 401`);
      }
      const admin = await call(ctl, r, { "x-api-key": keys.admin });
      if (admin === 401 || admin === 403) problems.push(`${name}: admin got ${admin}`);
      const byRole: Record<string, number> = {};
      for (const role of ["analyst", "integration", "readonly"] as const) byRole[role] = await call(ctl, r, { authorization: `Bearer ${keys[role]}` });
      if (r.method !== "GET" && byRole.readonly !== 403) problems.push(`${name}: readonly got ${byRole.readonly}, want 403`);
      for (const [role, st] of Object.entries(byRole)) if (st === 401) problems.push(`${name}: ${role} got 401`);
    }
    expect(problems).toEqual([]);
  });

  it("admin routes: analyst, integration and readonly get 403, admin gets through", async () => {
    const adminOnly: Array<Pick<Route, "method" | "path">> = [
      { method: "POST", path: "/api/v1/apikeys" },
      { method: "GET", path: "/api/v1/apikeys" },
      { method: "POST", path: "/api/v1/enrollment-tokens" },
      { method: "GET", path: "/api/v1/enrollment-tokens" },
      { method: "POST", path: "/api/v1/agents/x/revoke" },
    ];
    for (const r of adminOnly) {
      for (const role of ["analyst", "integration", "readonly"] as const) expect(await call(ctl, r, { authorization: `Bearer ${keys[role]}` }), `${role} ${r.method} ${r.path}`).toBe(403);
      expect([200, 201, 400, 404]).toContain(await call(ctl, r, { authorization: `Bearer ${keys.admin}` }));
    }
    // The audit trail: analysts and auditors yes, integrations no.
    const audit = { method: "GET", path: "/api/v1/audit" };
    expect(await call(ctl, audit, { authorization: `Bearer ${keys.integration}` })).toBe(403);
    expect(await call(ctl, audit, { authorization: `Bearer ${keys.readonly}` })).toBe(200);
  });

  it("creating a key returns it once; listings and the audit never show keys or hashes; a revoked key stops working", async () => {
    const res = await fetch(`${ctl.httpUrl}/api/v1/apikeys`, {
      method: "POST",
      headers: { authorization: `Bearer ${keys.admin}`, "content-type": "application/json" },
      body: JSON.stringify({ role: "analyst", name: "soc" }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: string; key: string; role: string };
    expect(created.key).toMatch(/^vk_[0-9a-f]{16}_/);
    expect((await ctl.get("/api/v1/agents", created.key)).status).toBe(200);
    const listing = JSON.stringify((await ctl.get("/api/v1/apikeys")).body) + JSON.stringify((await ctl.get("/api/v1/audit?limit=1000")).body);
    // The secret is base64url and may itself contain "_": everything after the second "_".
    expect(listing).not.toContain(created.key.slice(created.key.indexOf("_", created.key.indexOf("_") + 1) + 1));
    expect(listing).not.toContain("scrypt$");
    const del = await fetch(`${ctl.httpUrl}/api/v1/apikeys/${created.id}`, { method: "DELETE", headers: { authorization: `Bearer ${keys.admin}` } });
    expect(del.status).toBe(200);
    expect((await ctl.get("/api/v1/agents", created.key)).status).toBe(401);
  });

  it("bad bodies get 400s that name the field", async () => {
    const post = (path: string, body: string) =>
      fetch(ctl.httpUrl + path, { method: "POST", headers: { authorization: `Bearer ${keys.admin}`, "content-type": "application/json" }, body }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { message: string },
      }));
    expect(await post("/api/v1/apikeys", JSON.stringify({ role: "root" }))).toMatchObject({ status: 400, body: { message: expect.stringContaining('"role"') } });
    expect(await post("/api/v1/apikeys", JSON.stringify({ role: "admin", extra: 1 }))).toMatchObject({ status: 400, body: { message: expect.stringContaining('"extra"') } });
    expect(await post("/api/v1/enrollment-tokens", JSON.stringify({ ttl: "forever" }))).toMatchObject({ status: 400, body: { message: expect.stringContaining("ttl") } });
    expect(await post("/api/v1/enrollment-tokens", JSON.stringify({ uses: 0 }))).toMatchObject({ status: 400, body: { message: expect.stringContaining('"uses"') } });
    const ok = await post("/api/v1/enrollment-tokens", JSON.stringify({ ttl: "1h", uses: 2, tags: ["a"] }));
    expect(ok.status).toBe(201);
    expect((ok.body as unknown as { token: string }).token).toMatch(/^vet_/);
  });
});

describe("rate limits", () => {
  let ctl: TestController;
  beforeAll(async () => {
    // Refills slow enough (one token per 10 s) that how fast a loaded machine serves the requests
    // cannot refill a bucket mid-test: a cut-off is then the limiter's doing, not the clock's.
    ctl = await startTestController({ env: { VIGIL_API_RATE: "0.1", VIGIL_API_BURST: "5", VIGIL_AUTH_FAIL_RATE: "0.1", VIGIL_AUTH_FAIL_BURST: "20" } });
  });
  afterAll(async () => ctl?.dispose());

  it("a key past its burst gets 429 with Retry-After; another key is unaffected", async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      const res = await fetch(`${ctl.httpUrl}/api/v1/agents`, { headers: { authorization: `Bearer ${ctl.adminKey}` } });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
      await res.arrayBuffer();
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    // Past the burst only what refilled meanwhile (one per 10 s) may pass: the rest are refused.
    const refilled = Math.floor((Date.now() - started) / 10_000);
    expect(statuses.slice(5).filter((s) => s === 429).length, JSON.stringify(statuses)).toBeGreaterThanOrEqual(3 - refilled);
    expect(statuses).toContain(429);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const other = (await ctl.security.apiKeys.create("readonly", "other", "test")).key;
    expect((await ctl.get("/api/v1/agents", other)).status).toBe(200);
  });

  it("guessing keys from one address is cut off with 429, and refused guesses run no scrypt", async () => {
    const statuses: number[] = [];
    const guess = (i: number) => ctl.get("/api/v1/agents", `vk_${"1".repeat(16)}_${String(i).padStart(43, "x")}`);
    // The burst is 20; the bucket refills one guess per 10 s while scrypt runs, so the cut-off
    // comes after 20 and at most a few more (at the default 5/s a loaded machine's slow scrypt
    // could keep pace with the refill and never be cut off within the loop).
    const started = Date.now();
    for (let i = 0; i < 200 && statuses.at(-1) !== 429; i++) statuses.push((await guess(i)).status);
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    // The burst, what refilled while the guesses ran, and the refused one: no more.
    expect(statuses.length).toBeLessThanOrEqual(20 + Math.floor((Date.now() - started) / 10_000) + 1);
    const runs = ctl.security.apiKeys.scrypt.runs;
    const more = await Promise.all(Array.from({ length: 20 }, (_, i) => guess(1000 + i)));
    expect(more.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(18);
    expect(ctl.security.apiKeys.scrypt.runs - runs).toBeLessThanOrEqual(2);
  });
});
