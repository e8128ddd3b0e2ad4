import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AgentConfigError, loadAgentConfig, type AgentFlags } from "./config/config";
import { AgentRuntime } from "./runtime/agent-runtime";
import { reapplyEnforcement } from "./runtime/reapply";
import { CertificateRenewer, ENROLL_HELP, enrollCommand, hasTlsIdentity, tlsCredentialsFactory } from "./enroll";
import { createSensors } from "./runtime/create-sensors";
import { createLog } from "./util/log";
import { PARSE_HELP, parseCommand } from "./parse-command";
import { AGENT_VERSION } from "./version";
import { Inventory } from "@vigil/proto";
import { collectInventory } from "./inventory";

const HELP = `vigil-agent ${AGENT_VERSION}: the Vigil EDR endpoint agent

Usage: vigil-agent <command> [options]

Commands:
  run       watch this host and stream to the controller
              --controller HOST:PORT   controller gRPC address (VIGIL_CONTROLLER, default 127.0.0.1:50051)
              --watch PATH             file integrity path, repeatable (VIGIL_WATCH, comma-separated)
              --auth-log PATH          auth log to follow (VIGIL_AUTH_LOG; default /var/log/auth.log,
                                       /var/log/secure, else journalctl)
              --state-dir DIR          spool, offsets, identity (VIGIL_STATE_DIR, default /var/lib/vigil as root)
              --config FILE            YAML config; keys as in the docs (VIGIL_CONFIG)
              --tag TAG                agent tag, repeatable (VIGIL_TAGS)
              --log-level LEVEL        debug|info|warn|error (VIGIL_LOG_LEVEL)
${ENROLL_HELP}${PARSE_HELP}  status    print the running agent's status from its state dir (--state-dir)
  reapply   put a persisted isolation and IP blocks back into the kernel, then exit
            (run at boot before the network comes up: ExecStartPre of the systemd unit)
  inventory print this host's inventory as JSON (OS, CPU, memory, disks, interfaces, users,
            listening ports, packages) and exit; the running agent runs it as a short-lived child
            --reason TEXT            recorded with it (default: manual)
  version   print the version

Every flag also works from the YAML config file and VIGIL_* environment variables;
flags win over the environment, which wins over the file.
`;

const FLAG_OPTIONS = {
  controller: { type: "string" },
  watch: { type: "string", multiple: true },
  "auth-log": { type: "string" },
  "state-dir": { type: "string" },
  config: { type: "string" },
  tag: { type: "string", multiple: true },
  "log-level": { type: "string" },
} as const;

function flagsFrom(argv: string[]): AgentFlags {
  const { values } = parseArgs({ args: argv, options: FLAG_OPTIONS, strict: true });
  return { controller: values.controller, watch: values.watch, authLog: values["auth-log"], stateDir: values["state-dir"], config: values.config, tags: values.tag, logLevel: values["log-level"] };
}

async function run(argv: string[]): Promise<number> {
  const cfg = loadAgentConfig(flagsFrom(argv));
  const log = createLog(cfg.logLevel);
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
  let alive = false;
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
  // `vigil-agent run --help` and friends: the one help text covers every command.
  if (cmd && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(HELP);
    return 0;
  }
  try {
    switch (cmd) {
      case "run": return await run(rest);
      case "enroll": return await enrollCommand(rest);
      case "status": return status(rest);
      case "reapply": return await reapply(rest);
      case "parse": return await parseCommand(rest);
      case "inventory": return await inventory(rest);
      case "version": case "--version":
        process.stdout.write(AGENT_VERSION + "\n");
        return 0;
      case undefined: case "--help": case "-h": case "help":
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
