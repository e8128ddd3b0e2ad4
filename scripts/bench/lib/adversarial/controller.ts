import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { call, json, type CallOptions, type HttpResult } from "./http";
import { CONTROLLER_BIN } from "./under-test";

const run = promisify(execFile);
export { CONTROLLER_BIN };

export interface Keys {
  admin: string;
  analyst: string;
  readonly: string;
  integration: string;
}

export interface Controller {
  child: ChildProcess;
  dataDir: string;
  dbUrl: string;
  dbFile: string;
  httpUrl: string;
  grpcPort: number;
  /** The HTTPS key pin (`sha256//…`) the controller prints when its API is on TLS. */
  pin?: string;
  caPem: string;
  caFingerprint: string;
  keys: Keys;
  output(): string;
  api(method: string, path: string, o?: CallOptions): Promise<HttpResult>;
  /** The controller's own CLI against the same database and data dir (exit code and output). */
  cli(args: string[], env?: Record<string, string>): Promise<{ code: number; out: string }>;
  /** Read-only SQL on the controller's SQLite file, independent of its API. */
  sql<T = Record<string, unknown>>(query: string, ...params: unknown[]): T[];
  /** Longest event-loop block (ms) in the controller between two wall-clock times, from its preloaded monitor. */
  loopBlock(fromMs: number, toMs: number): { ms: number; atMs: number };
  stop(): Promise<void>;
}

export async function cli(dataDir: string, dbUrl: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return run(process.execPath, [CONTROLLER_BIN, ...args, "--database", dbUrl, "--data-dir", dataDir], { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: typeof e.code === "number" ? e.code : 1, out: (e.stdout ?? "") + (e.stderr ?? "") }),
  );
}

/**
 * The built controller as its own process, in its production agent mode (mTLS,
 * enrolled agents), on loopback, SQLite in a fresh data dir. The admin key and
 * the first enrollment token come from its CLI, as an operator gets them; the
 * other roles' keys through the admin API.
 */
export async function startController(dataDir: string, env: Record<string, string>): Promise<Controller> {
  const dbFile = join(dataDir, "vigil.db");
  const dbUrl = `sqlite:${dbFile}`;
  const baseEnv: Record<string, string> = { ...env };
  const admin = await cli(dataDir, dbUrl, ["apikey", "create", "--role", "admin", "--name", "bench admin"], baseEnv);
  const adminKey = /^(vk_\S+)/m.exec(admin.out)?.[1];
  if (!adminKey) throw new Error(`apikey create failed:\n${admin.out}`);
  const loopFile = join(dataDir, "..", "controller-loop.log");
  // Observation only: the monitor is preloaded, the controller's code is untouched.
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    ...baseEnv,
    VIGIL_BENCH_LOOP_FILE: loopFile,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --require ${join(__dirname, "loop-monitor.cjs")}`.trim(),
  };
  delete childEnv.VIGIL_INSECURE_GRPC;
  const child = spawn(process.execPath, [CONTROLLER_BIN, "serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--data-dir", dataDir, "--database", dbUrl, "--log-level", "warn"], {
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const ready = await new Promise<{ http: string; grpc: number; pin?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`controller not ready:\n${out.slice(-3000)}`)), 60_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /vigil-controller ready http=(\S+) grpc=(\d+)(?: pin=(\S+))?[^\n]*\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ http: m[1]!, grpc: Number(m[2]), pin: m[3] });
      }
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code, sig) => reject(new Error(`controller exited (${code ?? sig}):\n${out.slice(-3000)}`)));
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const api = (method: string, path: string, o: CallOptions = {}) => call(ready.http, method, path, o);
  const keyOf = async (role: string): Promise<string> => {
    const r = await api("POST", "/api/v1/apikeys", { key: adminKey, ...json({ role, name: `bench ${role}` }) });
    if (!r.json?.key) throw new Error(`creating a ${role} key: ${r.status} ${r.text}`);
    return r.json.key as string;
  };
  const keys: Keys = { admin: adminKey, analyst: await keyOf("analyst"), readonly: await keyOf("readonly"), integration: await keyOf("integration") };
  const caPem = readFileSync(join(dataDir, "ca", "ca.crt"), "utf8");
  const tok = await cli(dataDir, dbUrl, ["token", "create", "--json"], baseEnv);
  const caFingerprint = (JSON.parse(tok.out.trim().split("\n").pop()!) as { caFingerprint: string }).caFingerprint;
  let db: Database.Database | undefined;
  return {
    child,
    dataDir,
    dbUrl,
    dbFile,
    httpUrl: ready.http,
    grpcPort: ready.grpc,
    pin: ready.pin,
    caPem,
    caFingerprint,
    keys,
    output: () => out,
    api,
    cli: (args, e = {}) => cli(dataDir, dbUrl, args, { ...baseEnv, ...e }),
    sql<T>(query: string, ...params: unknown[]): T[] {
      db ??= new Database(dbFile, { readonly: true, fileMustExist: true });
      db.pragma("busy_timeout = 5000");
      return db.prepare(query).all(...params) as T[];
    },
    loopBlock(fromMs: number, toMs: number) {
      let worst = 0;
      let at = fromMs;
      for (const line of readFileSync(loopFile, "utf8").split("\n")) {
        const [t, d] = line.split(" ").map(Number);
        // A line at t covers the delays since the previous line; a block ending after fromMs counts.
        if (t !== undefined && d !== undefined && t >= fromMs && t - d <= toMs && d > worst) {
          worst = d;
          at = t;
        }
      }
      return { ms: worst, atMs: at };
    },
    async stop() {
      db?.close();
      db = undefined;
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** An enrollment token from the admin API (tags only ever come from here or the CLI). */
export async function enrollmentToken(c: Controller, tags: string[] = [], uses = 1): Promise<string> {
  const r = await c.api("POST", "/api/v1/enrollment-tokens", { key: c.keys.admin, ...json({ uses, tags, ttl: "1h" }) });
  if (!r.json?.token) throw new Error(`token: ${r.status} ${r.text}`);
  return r.json.token as string;
}

export function storedCount(c: Controller, agentId: string): number {
  return c.sql<{ n: number }>("SELECT COUNT(*) AS n FROM events WHERE agent_id = ?", agentId)[0]!.n;
}

export async function until<T>(what: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 100): Promise<T | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await what();
    if (v) return v;
    if (Date.now() > end) return undefined;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
