import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnAgent, type AgentProcess } from "./agent-process";
import { waitFor, waitForProgress } from "./wait";

export interface SyntheticAgentOptions {
  /** HOST:PORT the agent dials (the controller, or a proxy in front of it). */
  controller: string;
  /** Reuse to restart the same agent (id, spool, synthetic position). */
  stateDir?: string;
  rate: number;
  count: number;
  mix?: string;
  /** Extra VIGIL_* settings (spool bound, fsync, backoff cap...). */
  env?: Record<string, string>;
}

/** What the agent wrote to status.json when it stopped (or last wrote it). */
export interface AgentStatusFile {
  agentId: string;
  spool: { records: number; bytes: number; ackedSeq: number; lastSeq: number; dropped: Record<string, number>; discardedBytes: number };
  link: { connects: number; batchesSent: number; eventsSent: number; acks: number };
}

/**
 * The real agent bundle with every real sensor off and only the synthetic
 * source on, so the events that flow are exactly the numbered ones.
 */
export function startSyntheticAgent(o: SyntheticAgentOptions): AgentProcess {
  const stateDir = o.stateDir ?? mkdtempSync(join(tmpdir(), "vigil-fault-agent-"));
  mkdirSync(stateDir, { recursive: true });
  const config = join(stateDir, "synthetic.yaml");
  writeFileSync(
    config,
    [
      "sensors: { process: false, network: false, file: false, auth: false, audit: false, syslog: false }",
      `synthetic_rate: ${o.rate}`,
      `synthetic_count: ${o.count}`,
      `synthetic_mix: "${o.mix ?? "agent"}"`,
      "heartbeat_ms: 250",
      "",
    ].join("\n"),
  );
  return spawnAgent(["--controller", o.controller, "--config", config], { stateDir, env: { VIGIL_LOG_LEVEL: "warn", ...o.env } });
}

export function agentIdOf(stateDir: string): string {
  return readFileSync(join(stateDir, "agent-id"), "utf8").trim();
}

/** One past the last number the synthetic source has produced (reserved) so far. */
export function syntheticNext(stateDir: string): number {
  const f = join(stateDir, "synthetic", "state.json");
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as { next: number }).next : 1;
}

export function readStatusFile(stateDir: string): AgentStatusFile {
  return JSON.parse(readFileSync(join(stateDir, "status.json"), "utf8")) as AgentStatusFile;
}

export async function waitForAgentId(stateDir: string, agent: AgentProcess): Promise<string> {
  return waitFor(
    "the agent id",
    () => {
      if (agent.child.exitCode !== null) throw new Error(`agent exited with ${agent.child.exitCode}`);
      return existsSync(join(stateDir, "agent-id")) && agentIdOf(stateDir);
    },
    20_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${agent.output()}`);
  });
}

/** For a failure message: whether the agent still runs, its last status.json (link and spool counters) and its log tail. */
export function describeAgent(agent: AgentProcess, tailChars = 3000): string {
  const { exitCode, signalCode } = agent.child;
  const state = exitCode !== null || signalCode !== null ? `agent exited (${signalCode ?? exitCode})` : "agent running";
  let status = "no status.json yet";
  try {
    const st = readStatusFile(agent.stateDir);
    status = `status.json: link ${JSON.stringify(st.link)} spool ${JSON.stringify(st.spool)}`;
  } catch {
    // not written yet (it is written once the agent has started, then every 5 s)
  }
  return `${state}; synthetic next ${syntheticNext(agent.stateDir)}; ${status}\nagent log tail:\n${agent.output().slice(-tailChars)}`;
}

/**
 * Waits until the synthetic source has produced all `count` numbers; fails when it produces
 * nothing for `stallMs` (a slow start on a loaded machine is not a failure).
 */
export async function waitProduced(stateDir: string, count: number, agent: AgentProcess, stallMs = 30_000): Promise<void> {
  await waitForProgress(`the synthetic source to produce ${count} events`, () => syntheticNext(stateDir) - 1, count, { stallMs, context: () => describeAgent(agent) });
}
