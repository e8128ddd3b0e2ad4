import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(__dirname, "../../..");
export const AGENT_BUNDLE = join(ROOT, "dist/vigil-agent.cjs");
export const AGENT_BINARY = join(ROOT, "dist/vigil-agent");

export interface AgentProcess {
  child: ChildProcess;
  stateDir: string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs the built agent as a real process: the esbuild bundle under node, or the
 * SEA binary. `npm test` builds both before vitest starts.
 */
export function spawnAgent(args: string[], opts: { binary?: boolean; stateDir?: string; env?: Record<string, string> } = {}): AgentProcess {
  const exe = opts.binary ? AGENT_BINARY : process.execPath;
  if (!existsSync(opts.binary ? AGENT_BINARY : AGENT_BUNDLE)) throw new Error(`${opts.binary ? AGENT_BINARY : AGENT_BUNDLE} is missing: run \`npm run build:agent\``);
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), "vigil-agent-"));
  const argv = [...(opts.binary ? [] : [AGENT_BUNDLE]), "run", "--state-dir", stateDir, ...args];
  // /proc polling unless a test asks for the kernel sensor: an eBPF agent reports every exec on this
  // machine, including the other test files' (the kernel sensor has tests of its own).
  const child = spawn(exe, argv, { env: { ...process.env, VIGIL_LOG_LEVEL: "info", VIGIL_KERNEL_SENSOR: "proc", ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return {
    child,
    stateDir,
    output: () => out,
    stop(signal: NodeJS.Signals = "SIGTERM") {
      return new Promise((res) => {
        if (child.exitCode !== null || child.signalCode !== null) return res(child.exitCode);
        child.once("exit", (code) => res(code));
        child.kill(signal);
      });
    },
  };
}
