import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { AgentServiceClient, Event, type AgentMessage, type ControllerMessage } from "@vigil/proto";
import { newKeyRequest } from "../../../../agent/src/enroll/key-request";
import { enrollRpc } from "../../../../agent/src/enroll/enroll-client";
import { AGENT_BUNDLE } from "./under-test";
import type { Controller } from "./controller";

const run = promisify(execFile);

export interface Identity {
  agentId: string;
  keyPem: string;
  certPem: string;
}

/** Enrolls in this process the way the agent does (key pair, CSR, Enroll RPC pinned to the CA). */
export async function enrollIdentity(c: Controller, token: string): Promise<Identity> {
  const { keyPem, csrDer } = await newKeyRequest("bench-attacker");
  const cred = await enrollRpc(`127.0.0.1:${c.grpcPort}`, c.caPem, { token, csrDer, hostname: "bench-attacker" });
  return { agentId: cred.agentId, keyPem, certPem: cred.certificatePem };
}

/**
 * A gRPC agent stream holding a real enrolled certificate, driven by hand: what
 * someone who stole (or owns) an agent's key can send, without the agent's rules.
 */
export class CertifiedClient {
  readonly client: InstanceType<typeof AgentServiceClient>;
  readonly stream: ClientDuplexStream<AgentMessage, ControllerMessage>;
  readonly received: ControllerMessage[] = [];
  error?: ServiceError;

  constructor(port: number, caPem: string, id: Identity) {
    const creds = credentials.createSsl(Buffer.from(caPem), Buffer.from(id.keyPem), Buffer.from(id.certPem));
    this.client = new AgentServiceClient(`127.0.0.1:${port}`, creds, { "grpc.max_receive_message_length": 256 * 1024 * 1024 });
    this.stream = this.client.connect();
    this.stream.on("data", (m: ControllerMessage) => this.received.push(m));
    this.stream.on("error", (e: ServiceError) => (this.error = e));
  }

  hello(agentId: string, tags: string[] = [], lastSeq = 0): void {
    this.stream.write({
      msg: { $case: "hello", hello: { agentId, hostname: "bench-attacker", os: "linux", kernel: "", agentVersion: "bench", ipAddresses: [], tags, bootTimeMs: 0, lastSeq, arch: "" } },
    });
  }

  welcomed(): boolean {
    return this.received.some((m) => m.msg?.$case === "welcome");
  }

  events(firstSeq: number, events: Array<Partial<Event>>): void {
    this.stream.write({ msg: { $case: "events", events: { firstSeq, events: events.map((e, i) => Event.fromPartial({ seq: firstSeq + i, eventTimeMs: Date.now(), ...e })) } } });
  }

  lastAck(): number {
    let seq = 0;
    for (const m of this.received) if (m.msg?.$case === "ack") seq = Math.max(seq, m.msg.ack.seq);
    return seq;
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}

/** A process-start event as the agent's process sensor reports it. */
export function processEvent(exe: string, commandLine: string, eventTimeMs = Date.now()): Partial<Event> {
  return {
    eventTimeMs,
    body: {
      $case: "process",
      process: {
        action: 1,
        pid: 4242,
        ppid: 1,
        exe,
        commandLine,
        user: "mallory",
        uid: 1001,
        cwd: "/tmp",
        startTimeMs: eventTimeMs,
        sha256: "",
        parentExe: "/bin/sh",
        parentCommandLine: "sh",
        name: exe.split("/").pop()!,
        exeDeleted: false,
        exitCode: 0,
      },
    },
  } as Partial<Event>;
}

export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function spawnAgentProcess(args: string[]): AgentProcess {
  const child = spawn(process.execPath, [AGENT_BUNDLE, ...args], { env: { ...process.env, VIGIL_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

export interface RealAgent {
  proc: AgentProcess;
  stateDir: string;
  agentId: string;
  keyFile: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The real agent bundle: enrolled with `vigil-agent enroll` (token in the
 * environment, CA pinned), then run with its real spool and transport, every
 * host sensor off and the synthetic source on, so what it sends is countable.
 */
export async function startRealAgent(c: Controller, token: string, stateDir: string, configDir: string, rate: number): Promise<RealAgent> {
  // The state dir is left for the agent to create: its mode is the agent's doing (class 11).
  const addr = `127.0.0.1:${c.grpcPort}`;
  const enr = await run(process.execPath, [AGENT_BUNDLE, "enroll", "--controller", addr, "--state-dir", stateDir, "--ca-pin", c.caFingerprint], {
    env: { ...process.env, VIGIL_ENROLL_TOKEN: token },
  }).catch((e: { stdout: string; stderr: string }) => {
    throw new Error(`agent enroll failed:\n${e.stdout}${e.stderr}`);
  });
  void enr;
  mkdirSync(configDir, { recursive: true });
  const config = join(configDir, "bench.yaml");
  writeFileSync(
    config,
    [
      "sensors: { process: false, network: false, file: false, auth: false, audit: false, syslog: false }",
      `synthetic_rate: ${rate}`,
      "synthetic_count: 1000000",
      'synthetic_mix: "agent"',
      "heartbeat_ms: 500",
      "",
    ].join("\n"),
  );
  const identity = JSON.parse(readFileSync(join(stateDir, "tls", "identity.json"), "utf8")) as { agentId: string; key: string };
  const spawnIt = () => spawnAgentProcess(["run", "--state-dir", stateDir, "--controller", addr, "--config", config]);
  const a: RealAgent = {
    proc: spawnIt(),
    stateDir,
    agentId: identity.agentId,
    keyFile: join(stateDir, "tls", identity.key),
    async restart() {
      await a.proc.stop();
      a.proc = spawnIt();
    },
    async stop() {
      await a.proc.stop();
    },
  };
  return a;
}

/** The real agent's own identity (its key and certificate, as a thief would copy them). */
export function stealIdentity(a: RealAgent): Identity {
  const id = JSON.parse(readFileSync(join(a.stateDir, "tls", "identity.json"), "utf8")) as { agentId: string; key: string; cert: string };
  return { agentId: id.agentId, keyPem: readFileSync(join(a.stateDir, "tls", id.key), "utf8"), certPem: readFileSync(join(a.stateDir, "tls", id.cert), "utf8") };
}
