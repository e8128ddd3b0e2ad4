import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { startController, type RunningController, type StartOptions } from "../../src/app/bootstrap";
import { loadConfig } from "../../src/config/config";
import { createLogger } from "../../src/logging/logger";
import { rawGet } from "./https-get";

export const PG_ADMIN_URL = process.env.VIGIL_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestController extends RunningController {
  dir: string;
  /** An admin API key; `get()` (and support/http.ts `request()`) send it. */
  adminKey: string;
  /** Agents must enroll and present client certificates (the production mode). */
  mtls: boolean;
  get(path: string, key?: string | null): Promise<{ status: number; body: any }>;
  dispose(): Promise<void>;
}

/** A fresh PostgreSQL database per test file, dropped afterwards. */
/** One statement as the PostgreSQL admin, on a connection of its own (schemas and databases of tests). */
export async function pgAdmin(sql: string): Promise<void> {
  const c = new Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function createPgDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `vigil_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const c = new Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** The real controller in this process, on ephemeral ports, with its own temp data dir. */
/**
 * `mtls: true` runs the agent port as in production (TLS, client certificates,
 * enrollment); the default keeps the plaintext development mode that trusts
 * Hello.agent_id, which most wire and e2e tests drive by hand.
 */
/**
 * `https: true` serves the HTTP API over TLS as `serve` does by default (get() then trusts the
 * controller's CA); otherwise plaintext (--insecure-http), which most tests drive with fetch().
 */
export async function startTestController(opts: { databaseUrl?: string; env?: Record<string, string>; mtls?: boolean; https?: boolean } & StartOptions = {}): Promise<TestController> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-ctl-"));
  const config = loadConfig(
    { http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir: dir, database: opts.databaseUrl ?? `sqlite:${join(dir, "vigil.db")}`, logLevel: "warn", insecureGrpc: !opts.mtls, insecureHttp: !opts.https },
    { ...process.env, ...opts.env },
  );
  const running = await startController(config, { logger: opts.logger ?? createLogger(process.env.VIGIL_TEST_LOG ?? "error"), ...opts });
  const { key: adminKey } = await running.security.apiKeys.create("admin", "test admin", "test");
  return Object.assign(running, {
    dir,
    adminKey,
    mtls: !!opts.mtls,
    async get(path: string, key: string | null = adminKey) {
      const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
      const res = opts.https ? await rawGet(running.httpUrl + path, { ca: running.security.trust.ca.certPem, headers }) : await fetch(running.httpUrl + path, { headers });
      const text = Buffer.isBuffer(res.body) ? res.body.toString("utf8") : await (res as Response).text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON; keep the text
      }
      return { status: res.status, body };
    },
    async dispose() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
