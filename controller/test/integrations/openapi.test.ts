import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModulesContainer } from "@nestjs/core";
import { PATH_METADATA } from "@nestjs/common/constants";

/** @nestjs/swagger's metadata keys (its constants module is not exported). */
const DECORATORS = { API_EXCLUDE_CONTROLLER: "swagger/apiExcludeController", API_EXCLUDE_ENDPOINT: "swagger/apiExcludeEndpoint" };
import { ROUTES } from "../../src/api/schemas";
import { typed } from "../../src/api/schemas/schema";
import { startTestController, type TestController } from "../support/controller";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "../../..");

type Json = Record<string, any>;
const METHODS = ["get", "put", "post", "delete", "patch"];

/** Every (method, path) Express serves for Nest's controllers, as OpenAPI paths ("/x/{id}"). */
function servedRoutes(ctl: TestController): string[] {
  const express = ctl.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } };
  const out: string[] = [];
  for (const layer of express.router.stack) {
    if (!layer.route || typeof layer.route.path !== "string") continue;
    for (const m of Object.keys(layer.route.methods)) if (METHODS.includes(m)) out.push(`${m} ${layer.route.path.replace(/:(\w+)/g, "{$1}")}`);
  }
  // Swagger UI's own pages are not API routes.
  return out.filter((r) => !r.includes("/api/docs"));
}

/** Routes of controllers that opt out of the API document on purpose (@ApiExcludeController: HTML pages). */
function deliberatelyUndocumented(ctl: TestController): Set<string> {
  const out = new Set<string>();
  const join = (...parts: string[]) => "/" + parts.join("/").split("/").filter(Boolean).join("/");
  for (const mod of ctl.app.get(ModulesContainer).values()) {
    for (const wrapper of mod.controllers.values()) {
      const type = wrapper.metatype as (new (...a: unknown[]) => unknown) | null;
      const excludedClass = type && Reflect.getMetadata(DECORATORS.API_EXCLUDE_CONTROLLER, type)?.[0];
      if (!type) continue;
      const prefixes = [Reflect.getMetadata(PATH_METADATA, type) ?? ""].flat() as string[];
      for (const name of Object.getOwnPropertyNames(type.prototype)) {
        const handler = type.prototype[name] as object;
        if (!excludedClass && !Reflect.getMetadata(DECORATORS.API_EXCLUDE_ENDPOINT, handler)?.disable) continue;
        const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (paths === undefined) continue;
        for (const p of prefixes)
          for (const q of [paths].flat())
            out.add(
              join(p, q)
                .replace(/:(\w+)/g, "{$1}")
                .replace(/\*(\w+)/g, "*$1"),
            );
      }
    }
  }
  return out;
}

/**
 * A client generated from the document at run time: one function per operationId that fills the
 * path parameters, sends the JSON body and the key. Proof that the document is enough to call the API.
 */
function generateClient(doc: Json, base: string, key: string) {
  const ops: Record<string, (args?: { path?: Record<string, string>; query?: Record<string, string>; body?: unknown }) => Promise<{ status: number; body: any }>> = {};
  for (const [path, item] of Object.entries(doc.paths as Json)) {
    for (const method of METHODS) {
      const op = (item as Json)[method];
      if (!op) continue;
      ops[op.operationId] = async (args = {}) => {
        const url = new URL(base + path.replace(/\{(\w+)\}/g, (_, n: string) => encodeURIComponent(args.path?.[n] ?? "")));
        for (const [k, v] of Object.entries(args.query ?? {})) url.searchParams.set(k, v);
        const res = await fetch(url, {
          method: method.toUpperCase(),
          headers: { authorization: `Bearer ${key}`, ...(args.body !== undefined ? { "content-type": "application/json" } : {}) },
          body: args.body === undefined ? undefined : JSON.stringify(args.body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      };
    }
  }
  return ops;
}

describe("OpenAPI document", () => {
  let ctl: TestController;
  let doc: Json;

  beforeAll(async () => {
    ctl = await startTestController();
    const res = await fetch(`${ctl.httpUrl}/api/docs/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as Json;
  });
  afterAll(async () => ctl?.dispose());

  it("documents every route Nest serves, plus the WebSocket stream", () => {
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Json)) for (const m of METHODS) if ((item as Json)[m]) documented.add(`${m} ${path}`);
    const served = servedRoutes(ctl);
    expect(served.length).toBeGreaterThan(40);
    const optedOut = deliberatelyUndocumented(ctl);
    expect(served.filter((r) => !documented.has(r) && !optedOut.has(r.slice(r.indexOf(" ") + 1)))).toEqual([]);
    expect(documented.has("get /api/v1/stream")).toBe(true);
    expect(documented.has("get /metrics")).toBe(true);
  });

  it("is complete enough to generate a client: operation ids, typed responses, error shape, body schemas, auth", () => {
    expect(doc.components.securitySchemes).toMatchObject({ bearer: { type: "http", scheme: "bearer" }, "api-key": { type: "apiKey", in: "header" } });
    expect(doc.components.schemas.Error.properties).toHaveProperty("statusCode");
    const ids = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const m of METHODS) {
        const op = (item as Json)[m];
        if (!op) continue;
        const where = `${m} ${path}`;
        expect(op.operationId, where).toBeTruthy();
        expect(ids.has(op.operationId), `duplicate operationId ${op.operationId}`).toBe(false);
        ids.add(op.operationId);
        const statuses = Object.keys(op.responses);
        expect(
          statuses.some((s) => /^(2\d\d|101)$/.test(s)),
          where,
        ).toBe(true);
        // The health check's 503 says what is degraded ({status, database}), not an Error.
        for (const s of statuses.filter((x) => /^[45]/.test(x) && !(path === "/api/v1/healthz" && x === "503")))
          expect(op.responses[s].content["application/json"].schema.$ref, `${where} ${s}`).toBe("#/components/schemas/Error");
        if (path !== "/api/v1/healthz") expect(statuses, where).toContain("401");
        if (op.requestBody) for (const media of Object.values(op.requestBody.content as Json)) expect((media as Json).schema, where).toBeTruthy();
        for (const p of op.parameters ?? []) expect(p.schema, `${where} ${p.name}`).toBeTruthy();
      }
    }
  });

  it("drives a generated client: create and read a webhook, and get errors in the documented shape", async () => {
    const api = generateClient(doc, ctl.httpUrl, ctl.adminKey);
    const created = await api.WebhooksController_create({ body: { name: "from-generated-client", url: "http://127.0.0.1:9/hook", enabled: false } });
    expect(created.status).toBe(201);
    const got = await api.WebhooksController_get({ path: { id: created.body.id } });
    expect(got.body).toMatchObject({ name: "from-generated-client", enabled: false });
    const bad = await api.WebhooksController_create({ body: { name: "x", url: "nope" } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body).sort()).toEqual(["error", "message", "statusCode"]);
    expect(Object.keys(bad.body).every((k) => k in doc.components.schemas.Error.properties)).toBe(true);
    expect((await api.HealthController_healthz?.())?.status ?? 200).toBe(200);
  });

  it("is typed: every route has its schemas, every parameter a type, no open-ended success body", () => {
    const documented: string[] = [];
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const m of METHODS) {
        const op = (item as Json)[m];
        if (!op || path === "/api/v1/stream") continue;
        const where = `${m} ${path}`;
        documented.push(where);
        for (const p of op.parameters ?? []) {
          expect(p.schema.type ?? p.schema.enum, `${where} parameter ${p.name}`).toBeTruthy();
          if (/^(limit|minScore|minRisk)$/.test(p.name)) expect([p.schema.type, typeof p.schema.minimum, typeof p.schema.maximum], `${where} ${p.name}`).toEqual(["integer", "number", "number"]);
        }
        for (const [status, resp] of Object.entries(op.responses as Json)) {
          if (!/^2\d\d$/.test(status) || status === "204") continue;
          const content = Object.entries((resp as Json).content ?? {});
          expect(content.length, `${where} ${status} has a body schema`).toBeGreaterThan(0);
          for (const [, media] of content) {
            const schema = (media as Json).schema as Json;
            expect(schema.$ref ?? schema.type, `${where} ${status}`).toBeTruthy();
            expect(schema.type === "object" && !schema.properties, `${where} ${status} is an open object`).toBe(false);
          }
        }
        if (op.requestBody)
          for (const [type, media] of Object.entries(op.requestBody.content as Json))
            expect((media as Json).schema.$ref ?? (media as Json).schema.type ?? (media as Json).schema.oneOf, `${where} body ${type}`).toBeTruthy();
      }
    }
    // One entry per route in api/schemas/routes.ts, no stale ones.
    expect(documented.filter((r) => !ROUTES[r])).toEqual([]);
    expect(Object.keys(ROUTES).filter((r) => !documented.includes(r))).toEqual([]);
  });

  it("describes the API key as it is and the script and binary routes with their real media types", () => {
    expect(doc.components.securitySchemes.bearer.bearerFormat).not.toMatch(/jwt/i);
    expect(doc.components.securitySchemes.bearer.description).toMatch(/vk_<id>_<secret>/);
    expect(doc.security).toEqual([{ bearer: [] }, { "api-key": [] }]);
    expect(Object.keys(doc.paths["/install.sh"].get.responses["200"].content)).toEqual(["text/x-shellscript"]);
    expect(doc.paths["/api/v1/agent/binary"].get.responses["200"].content).toEqual({ "application/octet-stream": { schema: expect.objectContaining({ type: "string", format: "binary" }) } });
    expect(Object.keys(doc.paths["/api/v1/agent/binary.sha256"].get.responses["200"].content)).toEqual(["text/plain"]);
    expect(Object.keys(doc.paths["/metrics"].get.responses["200"].content)).toEqual(["text/plain"]);
    expect(doc.paths["/api/v1/webhooks"].post.responses["413"].content["application/json"].schema.$ref).toBe("#/components/schemas/Error");
  });

  it("passes redocly lint with no errors and no warnings", async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-openapi-lint-"));
    try {
      writeFileSync(join(dir, "openapi.json"), JSON.stringify(doc));
      const r = await run(join(ROOT, "node_modules/.bin/redocly"), ["lint", "--config", join(ROOT, "redocly.yaml"), "--format", "json", join(dir, "openapi.json")], {
        env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true", NO_COLOR: "1" },
        maxBuffer: 16 << 20,
      }).catch((e: { stdout: string; stderr: string }) => e);
      const problems = (JSON.parse(r.stdout) as { problems: Array<{ ruleId: string; severity: string; message: string }> }).problems;
      expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("ties schemas to the services' types: a schema must name exactly its type's fields", () => {
    type View = { id: string; score: number };
    expect(typed<View>()({ id: { type: "string" }, score: { type: "integer" } }).required).toEqual(["id", "score"]);
    // @ts-expect-error a schema that lacks a field of its type does not compile
    typed<View>()({ id: { type: "string" } });
    // @ts-expect-error nor one that describes a field its type does not have
    typed<View>()({ id: { type: "string" }, score: { type: "integer" }, extra: { type: "string" } });
  });
});
