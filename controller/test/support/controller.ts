import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { startController, type RunningController, type StartOptions } from "../../src/app/bootstrap";
import { loadConfig } from "../../src/config/config";
import { createLogger } from "../../src/logging/logger";

export const PG_ADMIN_URL = process.env.VIGIL_TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test";

export interface TestController extends RunningController {
  dir: string;
  get(path: string): Promise<{ status: number; body: any }>;
  dispose(): Promise<void>;
}

/** A fresh PostgreSQL database per test file, dropped afterwards. */
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
export async function startTestController(opts: { databaseUrl?: string; env?: Record<string, string> } & StartOptions = {}): Promise<TestController> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-ctl-"));
  const config = loadConfig(
    { http: "127.0.0.1:0", grpc: "127.0.0.1:0", dataDir: dir, database: opts.databaseUrl ?? `sqlite:${join(dir, "vigil.db")}`, logLevel: "warn" },
    { ...process.env, ...opts.env },
  );
  const running = await startController(config, { logger: opts.logger ?? createLogger(process.env.VIGIL_TEST_LOG ?? "error"), ...opts });
  return Object.assign(running, {
    dir,
    async get(path: string) {
      const res = await fetch(running.httpUrl + path);
      const text = await res.text();
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
