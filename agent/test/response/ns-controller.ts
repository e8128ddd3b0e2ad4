/**
 * The real controller (in this test process, so tests can sign and push with its key)
 * made reachable from inside a network namespace: a relay process in the controller
 * namespace accepts TCP on the node's address and forwards over a Unix socket (file
 * system, not network namespaced) to the controller's loopback port in the root
 * namespace. Nothing in the root namespace's network configuration changes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { type Server, type Socket, connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CommandResult, type ControllerMessage, type PolicyUpdate, commandSigningPayload, policySigningPayload } from "@vigil/proto";
import type { RunningController } from "../../../controller/src/app/bootstrap";
import type { SessionDeps } from "../../../controller/src/transport/agent-session";
import type { NetNode } from "../helpers/netns";

export interface SeenResult {
  agentId: string;
  result: CommandResult;
}

export interface NsController {
  /** The running controller; replaced by restart(). */
  readonly ctl: RunningController;
  /** Address agents in the namespaces use. */
  readonly address: string;
  /** Every CommandResult that arrived on a stream (across restarts). */
  readonly results: SeenResult[];
  stop(): Promise<void>;
  /** Starts again with the same data dir: same signing key, same database. */
  start(): Promise<void>;
  send(agentId: string, msg: ControllerMessage): boolean;
  command(agentId: string, type: string, params?: Record<string, unknown>, over?: Partial<{ id: string; issuedAtMs: number; expiresAtMs: number }>): ControllerMessage;
  policy(agentId: string, doc: Record<string, unknown> & { version: number }): PolicyUpdate;
  /** GET on the REST API. */
  get(path: string): Promise<{ status: number; body: any }>;
  dispose(): Promise<void>;
}

/** Starts the controller on loopback ports with this data dir, in plaintext (development) gRPC mode. */
export type BootController = (dataDir: string) => Promise<RunningController>;

/**
 * `boot` comes from the caller so this module never loads controller code itself:
 * tests boot from source (vitest compiles decorators), benchmarks from the built dist.
 */
export async function startNsController(node: NetNode, port: number, bootController: BootController): Promise<NsController> {
  const dir = mkdtempSync(join(tmpdir(), "vigil-ctl-ns-"));
  const sock = join(tmpdir(), `vigil-relay-${randomUUID().slice(0, 8)}.sock`);
  const results: SeenResult[] = [];
  let ctl: RunningController | undefined;
  let apiKey = "";

  const boot = async (): Promise<void> => {
    const c = await bootController(dir);
    apiKey = (await c.security.apiKeys.create("admin", "response tests", "test")).key;
    // Results on the stream: the session calls deps.onCommandResult, which the commands
    // service will own; the test listens alongside it without replacing it.
    const deps = (c.grpc as unknown as { deps: SessionDeps }).deps;
    const prev = deps.onCommandResult;
    deps.onCommandResult = (agentId, result) => {
      results.push({ agentId, result });
      prev?.(agentId, result);
    };
    ctl = c;
  };
  await boot();

  // Root-namespace half of the relay: Unix socket -> controller loopback port (whichever is current).
  const conns = new Set<Socket>();
  const unix: Server = createServer((client) => {
    conns.add(client);
    const up = ctl ? connect({ host: "127.0.0.1", port: ctl.grpcPort }) : undefined;
    if (!up) return client.destroy();
    conns.add(up);
    const close = () => {
      client.destroy();
      up.destroy();
      conns.delete(client);
      conns.delete(up);
    };
    client.on("error", close).on("close", close);
    up.on("error", close).on("close", close);
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((r) => unix.listen(sock, r));

  // Namespace half: TCP on the controller node -> Unix socket.
  const script =
    "const net=require('net');const [port,sock]=process.argv.slice(1);" +
    "net.createServer(c=>{const u=net.connect(sock);const x=()=>{c.destroy();u.destroy()};c.on('error',x).on('close',x);u.on('error',x).on('close',x);c.pipe(u).pipe(c)})" +
    ".listen({port:Number(port),host:'::',ipv6Only:false},()=>process.stdout.write('ready\\n'))";
  const relay: ChildProcess = spawn("ip", ["netns", "exec", node.ns, process.execPath, "-e", script, String(port), sock], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    relay.stdout!.on("data", (b: Buffer) => b.toString().includes("ready") && resolve());
    relay.once("exit", (code) => reject(new Error(`relay exited ${code}`)));
  });

  const need = (): RunningController => {
    if (!ctl) throw new Error("controller is stopped");
    return ctl;
  };
  const api: NsController = {
    get ctl() {
      return need();
    },
    address: `${node.ip4}:${port}`,
    results,
    async stop() {
      const c = ctl;
      ctl = undefined;
      await c?.stop();
      for (const s of conns) s.destroy();
    },
    start: boot,
    send(agentId, msg) {
      const s = ctl?.registry.session(agentId);
      if (!s) return false;
      s.send(msg);
      return true;
    },
    command(agentId, type, params = {}, over = {}) {
      const now = Date.now();
      const unsigned = {
        id: over.id ?? `cmd-${randomUUID()}`,
        agentId,
        type,
        paramsJson: JSON.stringify(params),
        issuedAtMs: over.issuedAtMs ?? now,
        expiresAtMs: over.expiresAtMs ?? now + 10 * 60_000,
      };
      return { msg: { $case: "command", command: { ...unsigned, signature: need().signer.sign(commandSigningPayload(unsigned)) } } };
    },
    policy(agentId, doc) {
      const unsigned = { version: doc.version, policyJson: JSON.stringify(doc), issuedAtMs: Date.now() };
      return { ...unsigned, signature: need().signer.sign(policySigningPayload(unsigned, agentId)) };
    },
    async get(path) {
      const res = await fetch(need().httpUrl + path, { headers: { authorization: `Bearer ${apiKey}` } });
      const text = await res.text();
      let body: any = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body };
    },
    async dispose() {
      relay.kill("SIGKILL");
      await api.stop();
      unix.close();
      rmSync(sock, { force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return api;
}
