import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AgentConfigError, loadAgentConfig } from "./config/config";
import { parseSettingFlags, settingFlagsHelp } from "./config/flags";
import { AgentRuntime } from "./runtime/agent-runtime";
import { reapplyEnforcement } from "./runtime/reapply";
import { CertificateRenewer, ENROLL_HELP, enrollCommand, hasTlsIdentity, tlsCredentialsFactory } from "./enroll";
import { createSensors } from "./runtime/create-sensors";
import { makeStateDirPrivate, ownerOnlyUmask } from "./runtime/private-state";
import { createLog } from "./util/log";
import { installProcessFaultHandlers } from "./util/process-faults";
import { PARSE_HELP, parseCommand } from "./parse-command";
import { AGENT_VERSION } from "./version";
import { Inventory } from "@vigil/proto";
import { collectInventory } from "./inventory";

const INVENTORY_HELP = `  inventory print this host's inventory as JSON (OS, CPU, memory, disks, interfaces, users,
            listening ports, packages) and exit; the running agent runs it as a short-lived child
            --reason TEXT            recorded with it (default: manual)
`;

const HELP = `vigil-agent ${AGENT_VERSION}: the Vigil EDR endpoint agent

Usage: vigil-agent <command> [options]   (vigil-agent <command> --help for its options)

Commands:
  run       watch this host and stream to the controller
              --controller HOST:PORT   controller gRPC address
              --config FILE            YAML config file
              (every config-file key is also a flag: vigil-agent run --help lists them)
${ENROLL_HELP}${PARSE_HELP}  status    print the running agent's status from its state dir (--state-dir)
  reapply   put a persisted isolation and IP blocks back into the kernel, then exit
            (run at boot before the network comes up: ExecStartPre of the systemd unit)
${INVENTORY_HELP}  version   print the version

Every setting works as a flag, a config-file key and a VIGIL_* environment variable;
flags win over the environment, which wins over the file.
`;

const SETTINGS_NOTE = `
Each flag is also a config-file key (--spool-max-bytes → spool_max_bytes) and a VIGIL_*
environment variable (VIGIL_SPOOL_MAX_BYTES); flags win over the environment, which wins over the file.
`;

/** `vigil-agent <command> --help`: that command's usage and options only. */
export function commandHelp(cmd: string): string | undefined {
  const head = (usage: string, what: string) => `vigil-agent ${AGENT_VERSION}\n\nUsage: vigil-agent ${usage}\n\n${what}\n\nOptions:\n`;
  switch (cmd) {
    case "run":
      return head("run [options]", "Watch this host and stream to the controller.") + settingFlagsHelp() + SETTINGS_NOTE;
    case "status":
      return head("status [--state-dir DIR | --config FILE]", "Print the running agent's status from its state dir (exit 3: not running).") + settingFlagsHelp();
    case "reapply":
      return head("reapply [--state-dir DIR | --config FILE]", "Put a persisted isolation and IP blocks back into the kernel, then exit (run at boot, before the network).") + settingFlagsHelp();
    case "enroll":
      return (
        head("enroll --token-file FILE [options]", "Enroll this agent with a controller (once); `run` then uses mTLS.") +
        ENROLL_HELP.split("\n")
          .slice(1)
          .map((l) => l.replace(/^ {12}/, ""))
          .join("\n") +
        "  --config FILE            YAML config file (controller, state_dir)\n"
      );
    case "parse":
      return (
        head("parse (--auth-log | --audit-log | --syslog) FILE [options]", "Print the events a log file holds, one JSON line each.") +
        PARSE_HELP.split("\n")
          .slice(2)
          .map((l) => l.replace(/^ {12}/, ""))
          .join("\n")
      );
    case "inventory":
      return head("inventory [--reason TEXT]", "Print this host's inventory as JSON and exit.") + "  --reason TEXT   recorded with it (default: manual)\n";
    case "version":
      return head("version", "Print the version.");
    default:
      return undefined;
  }
}

const flagsFrom = parseSettingFlags;

async function run(argv: string[]): Promise<number> {
  const cfg = loadAgentConfig(flagsFrom(argv));
  const log = createLog(cfg.logLevel);
  installProcessFaultHandlers(log);
  const tightened = makeStateDirPrivate(cfg.stateDir);
  if (tightened) log.warn("state dir was readable by others; tightened", { stateDir: cfg.stateDir, entries: tightened });
  if (process.getuid?.() !== 0) log.warn("not running as root: the auth log, other users' processes and enforcement are limited");
  // Enrolled (tls/identity.json in the state dir): mTLS with the certificate, renewed in the background.
  cfg.tls = hasTlsIdentity(cfg.stateDir);
  if (!cfg.tls) log.warn("not enrolled: connecting WITHOUT TLS (development only; the controller must run with --insecure-grpc). Run `vigil-agent enroll` first.");
  const renewer = cfg.tls ? new CertificateRenewer(cfg.stateDir, cfg.controller, log) : undefined;
  const runtime = new AgentRuntime(cfg, { sensors: createSensors(cfg), credentials: cfg.tls ? tlsCredentialsFactory(cfg.stateDir) : undefined }, log);
  await runtime.start();
  renewer?.start();
  process.stdout.write(`vigil-agent running id=${runtime.agentId} controller=${cfg.controller}\n`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info("stopping", { signal: sig });
      renewer?.stop();
      void runtime.stop().then(resolve, resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  return 0;
}

function status(argv: string[]): number {
  const cfg = loadAgentConfig(flagsFrom(argv));
  const file = join(cfg.stateDir, "status.json");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    process.stderr.write(`vigil-agent: no status at ${file}; is the agent running with --state-dir ${cfg.stateDir}?\n`);
    return 1;
  }
  const s = JSON.parse(text) as { updatedAt: string; pid: number };
  let alive: boolean;
  try {
    process.kill(s.pid, 0);
    alive = true;
  } catch {
    alive = false;
  }
  process.stdout.write(JSON.stringify({ ...JSON.parse(text), running: alive }, null, 2) + "\n");
  return alive ? 0 : 3;
}

async function reapply(argv: string[]): Promise<number> {
  const cfg = loadAgentConfig(flagsFrom(argv));
  const log = createLog(cfg.logLevel);
  const r = await reapplyEnforcement(cfg, log);
  process.stdout.write(`vigil-agent reapply: isolated=${r.isolated} blocks=${r.blocks}${r.errors.length ? ` errors=${r.errors.join("; ")}` : ""}\n`);
  // Non-zero only when something that should be enforced could not be: systemd then logs it loudly.
  return r.errors.length ? 1 : 0;
}

async function inventory(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { reason: { type: "string", default: "manual" } }, strict: true });
  const inv = await collectInventory(values.reason!);
  process.stdout.write(JSON.stringify(Inventory.toJSON(inv)) + "\n");
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  // `vigil-agent run --help` and friends: that command's own help.
  if (cmd && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(commandHelp(cmd) ?? HELP);
    return 0;
  }
  // Everything the agent writes (keys, spool, state) is its own user's alone.
  if (cmd === "run" || cmd === "enroll" || cmd === "reapply") ownerOnlyUmask();
  try {
    switch (cmd) {
      case "run":
        return await run(rest);
      case "enroll":
        return await enrollCommand(rest);
      case "status":
        return status(rest);
      case "reapply":
        return await reapply(rest);
      case "parse":
        return await parseCommand(rest);
      case "inventory":
        return await inventory(rest);
      case "version":
      case "--version":
        process.stdout.write(AGENT_VERSION + "\n");
        return 0;
      case undefined:
      case "--help":
      case "-h":
      case "help":
        process.stdout.write(HELP);
        return cmd ? 0 : 2;
      default:
        process.stderr.write(`vigil-agent: unknown command "${cmd}"\n\n${HELP}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof AgentConfigError || (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      process.stderr.write(`vigil-agent: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}
