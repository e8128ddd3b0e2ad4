/** The built agent (dist/vigil-agent.cjs) as a real process inside a test network namespace. */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { NetNode } from "../helpers/netns";

export const AGENT_BUNDLE = resolve(__dirname, "../../../dist/vigil-agent.cjs");

export interface NsAgent {
  readonly agentId: string;
  readonly stateDir: string;
  readonly child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, no cleanup runs. */
  crash(): Promise<void>;
}

export interface NsAgentOptions {
  controller: string;
  /** Reuse a state dir (restart); a fresh one otherwise. */
  stateDir?: string;
  agentId?: string;
  processSensor?: boolean;
  /** Where the fake `wall` appends what it would broadcast. */
  wallLog: string;
  extraConfig?: Record<string, unknown>;
}

/**
 * `wall` would write to every terminal of this shared machine, so the agent finds a
 * stand-in first on its PATH that appends the message to a file (the one mock here).
 */
function fakeWallDir(wallLog: string): string {
  const dir = mkdtempSync(join(tmpdir(), "vigil-fakebin-"));
  const wall = join(dir, "wall");
  writeFileSync(wall, `#!/bin/sh\ncat >> '${wallLog}'\n`);
  chmodSync(wall, 0o755);
  return dir;
}

export function spawnNsAgent(node: NetNode, o: NsAgentOptions): NsAgent {
  if (!existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing: run \`npm run build\``);
  const stateDir = o.stateDir ?? mkdtempSync(join(tmpdir(), "vigil-ns-agent-"));
  mkdirSync(stateDir, { recursive: true });
  const agentId = o.agentId ?? `ns-agent-${randomUUID().slice(0, 8)}`;
  if (!existsSync(join(stateDir, "agent-id"))) writeFileSync(join(stateDir, "agent-id"), agentId + "\n", { mode: 0o600 });
  const config = join(stateDir, "..", `${agentId}.yaml`);
  const settings = {
    sensors: { process: o.processSensor ?? false, network: false, file: false, auth: false, audit: false, syslog: false },
    heartbeat_ms: 1000,
    backoff_max_ms: 500,
    // /proc polling unless asked: a kernel-fed agent would see every exec on this machine.
    kernel_sensor: "proc",
    ...o.extraConfig,
  };
  writeFileSync(config, JSON.stringify(settings)); // JSON is YAML
  const env = { ...process.env, PATH: `${fakeWallDir(o.wallLog)}:${process.env.PATH ?? "/usr/bin:/bin"}`, VIGIL_LOG_LEVEL: "info" };
  const child = spawn("ip", ["netns", "exec", node.ns, process.execPath, AGENT_BUNDLE, "run", "--state-dir", stateDir, "--controller", o.controller, "--config", config], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return { agentId: readId(stateDir, agentId), stateDir, child, output: () => out, stop: () => signal("SIGTERM"), crash: () => signal("SIGKILL") };
}

function readId(stateDir: string, fallback: string): string {
  try {
    return readFileSync(join(stateDir, "agent-id"), "utf8").trim();
  } catch {
    return fallback;
  }
}

/** `nft list tables` inside the node. */
export async function nftTables(node: NetNode): Promise<string[]> {
  const r = await node.run(["nft", "list", "tables"]);
  if (r.code !== 0) throw new Error(`nft list tables: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .map((l) => l.replace(/^table /, "").trim())
    .filter(Boolean);
}
