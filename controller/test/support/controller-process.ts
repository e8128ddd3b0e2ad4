import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";
import { ROOT } from "./agent-process";

const BIN = join(ROOT, "controller/bin/vigil-controller.js");

/** A port that was free a moment ago, for a process that must come back on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ControllerProcess {
  child: ChildProcess;
  httpUrl: string;
  grpcPort: number;
  output(): string;
  get(path: string): Promise<{ status: number; body: any }>;
  /** Sends the signal and waits for the process to be gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * The built controller (`vigil-controller serve`) as its own process, so a test
 * can kill -9 it and start it again on the same gRPC port and database.
 */
export async function startControllerProcess(o: { grpcPort: number; dataDir: string; databaseUrl: string; env?: Record<string, string>; readyTimeoutMs?: number }): Promise<ControllerProcess> {
  // VIGIL_CONTROLLER_CPU_PROF=<dir>: each controller process writes a V8 CPU profile there when it exits (benchmarks' profiling).
  const prof = process.env.VIGIL_CONTROLLER_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.VIGIL_CONTROLLER_CPU_PROF}`] : [];
  const args = [...prof, BIN, "serve", "--http", "127.0.0.1:0", "--grpc", `127.0.0.1:${o.grpcPort}`, "--data-dir", o.dataDir, "--database", o.databaseUrl, "--log-level", "warn"];
  // Plaintext agent port (development mode that trusts Hello.agent_id) and HTTP API: these tests are about delivery, not identity.
  const child = spawn(process.execPath, args, { env: { ...process.env, VIGIL_INSECURE_GRPC: "1", VIGIL_INSECURE_HTTP: "1", ...o.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const ready = new Promise<{ http: string; grpc: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`controller not ready in time:\n${out.slice(-3000)}`)), o.readyTimeoutMs ?? 90_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /vigil-controller ready http=(\S+) grpc=(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ http: m[1]!, grpc: Number(m[2]) });
      }
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.once("exit", (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`controller exited (${code ?? sig}) before ready:\n${out.slice(-3000)}`));
    });
  });
  const { http } = await ready;
  return {
    child,
    httpUrl: http,
    grpcPort: o.grpcPort,
    output: () => out,
    async get(path: string) {
      const res = await fetch(http + path);
      const text = await res.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      return { status: res.status, body };
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
