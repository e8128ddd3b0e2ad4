import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseMix } from "../sensors/synthetic/mix";

export class AgentConfigError extends Error {}

export const DEFAULT_WATCH_PATHS = ["/etc", "/root/.ssh", "/home/*/.ssh", "/usr/local/bin", "/var/spool/cron", "/etc/systemd/system"];

export interface AgentConfig {
  controller: string;
  watch: string[];
  authLog?: string;
  /** auditd's log; default /var/log/audit/audit.log. */
  auditLog?: string;
  /** The system log; default /var/log/syslog, else /var/log/messages; "journal" follows the whole journal. */
  systemLog?: string;
  stateDir: string;
  tags: string[];
  processIntervalMs: number;
  networkIntervalMs: number;
  heartbeatMs: number;
  spoolMaxBytes: number;
  spoolFsync: "always" | "interval" | "never";
  /** With spool_fsync: interval, at most this long between syncs (what a power loss can cost). */
  spoolFsyncIntervalMs: number;
  spoolFullPolicy: "drop_oldest_low_priority" | "drop_newest" | "block";
  enforcement: "enforce" | "monitor";
  /** CIDRs that stay reachable while isolated (admin access). */
  isolationAllow: string[];
  /** Resolvers still reachable (port 53) while isolated; none unless configured. */
  isolationDns: string[];
  /** Keep DHCP working while isolated (hosts that would lose their lease). */
  isolationDhcp: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
  /** TLS material written by `enroll`; absent means a plaintext (development) connection. */
  tls: boolean;
  sensors: { process: boolean; network: boolean; file: boolean; auth: boolean; audit: boolean; syslog: boolean };
  /** Numbered test events per second (0 = off); see sensors/synthetic. */
  syntheticRate: number;
  /** Total numbered events over the state dir's life; 0 = no end. */
  syntheticCount: number;
  /** Kinds and weights of synthetic events, e.g. "process:8,auth:1,agent:1". */
  syntheticMix: string;
  /** Cap of the reconnect backoff. */
  backoffMaxMs: number;
  /** Longest one event may take in local policy evaluation before it is counted and reported. */
  policyEventBudgetMs: number;
  /**
   * Where process, connection and file-writer events come from: "auto" uses the kernel (eBPF) when
   * it can and falls back to /proc polling; "ebpf" requires it; "proc" never loads it.
   */
  kernelSensor: "auto" | "ebpf" | "proc";
  /** An eBPF helper to run instead of the one embedded in the agent binary. */
  ebpfHelper?: string;
}

/** Flags as parsed from the command line; undefined means "not given". */
export interface AgentFlags {
  controller?: string;
  watch?: string[];
  authLog?: string;
  stateDir?: string;
  config?: string;
  tags?: string[];
  logLevel?: string;
}

const KEYS: Record<string, keyof AgentConfig> = {
  controller: "controller", watch: "watch", auth_log: "authLog", authLog: "authLog", audit_log: "auditLog", auditLog: "auditLog", system_log: "systemLog", systemLog: "systemLog", state_dir: "stateDir", stateDir: "stateDir",
  tags: "tags", process_interval_ms: "processIntervalMs", network_interval_ms: "networkIntervalMs", heartbeat_ms: "heartbeatMs",
  spool_max_bytes: "spoolMaxBytes", spool_fsync: "spoolFsync", spool_fsync_interval_ms: "spoolFsyncIntervalMs", spool_full_policy: "spoolFullPolicy", enforcement: "enforcement",
  isolation_allow: "isolationAllow", isolation_dns: "isolationDns", isolation_dhcp: "isolationDhcp", log_level: "logLevel", logLevel: "logLevel", sensors: "sensors",
  synthetic_rate: "syntheticRate", synthetic_count: "syntheticCount", synthetic_mix: "syntheticMix", backoff_max_ms: "backoffMaxMs",
  policy_event_budget_ms: "policyEventBudgetMs",
  kernel_sensor: "kernelSensor", ebpf_helper: "ebpfHelper",
};

function defaultStateDir(): string {
  return process.getuid?.() === 0 ? "/var/lib/vigil" : join(homedir(), ".local", "state", "vigil");
}

function list(v: unknown, name: string): string[] {
  if (typeof v === "string") return v.split(",").map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
  throw new AgentConfigError(`${name}: expected a list of strings`);
}

function int(v: unknown, name: string, min: number, max: number): number {
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) throw new AgentConfigError(`${name}: expected an integer between ${min} and ${max}, got ${JSON.stringify(v)}`);
  return n;
}

function oneOf<T extends string>(v: unknown, name: string, values: readonly T[]): T {
  if (typeof v !== "string" || !values.includes(v as T)) throw new AgentConfigError(`${name}: expected one of ${values.join(", ")}, got ${JSON.stringify(v)}`);
  return v as T;
}

/** Applies one source (file, env or flags) onto the config, validating each key. */
function apply(cfg: AgentConfig, raw: Record<string, unknown>, source: string): void {
  for (const [k, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const key = KEYS[k];
    const name = `${source}: ${k}`;
    if (!key) throw new AgentConfigError(`${name}: unknown setting`);
    switch (key) {
      case "controller": case "authLog": case "auditLog": case "systemLog": case "stateDir":
        if (typeof v !== "string" || !v) throw new AgentConfigError(`${name}: expected a non-empty string`);
        cfg[key] = v;
        break;
      case "isolationDhcp":
        if (typeof v !== "boolean" && v !== "true" && v !== "false") throw new AgentConfigError(`${name}: expected true or false`);
        cfg.isolationDhcp = v === true || v === "true";
        break;
      case "watch": case "tags": case "isolationAllow": case "isolationDns":
        cfg[key] = list(v, name);
        break;
      case "spoolFsyncIntervalMs":
        cfg.spoolFsyncIntervalMs = int(v, name, 1, 60_000);
        break;
      case "processIntervalMs": case "networkIntervalMs": case "heartbeatMs":
        cfg[key] = int(v, name, 100, 3_600_000);
        break;
      case "syntheticRate": cfg.syntheticRate = int(v, name, 0, 1_000_000); break;
      case "syntheticCount": cfg.syntheticCount = int(v, name, 0, Number.MAX_SAFE_INTEGER); break;
      case "backoffMaxMs": cfg.backoffMaxMs = int(v, name, 100, 3_600_000); break;
      case "policyEventBudgetMs": cfg.policyEventBudgetMs = int(v, name, 1, 60_000); break;
      case "syntheticMix":
        try {
          parseMix(String(v));
        } catch (err) {
          throw new AgentConfigError(`${name}: ${(err as Error).message}`);
        }
        cfg.syntheticMix = String(v);
        break;
      case "spoolMaxBytes":
        cfg.spoolMaxBytes = int(v, name, 1 << 20, Number.MAX_SAFE_INTEGER);
        break;
      case "spoolFsync": cfg.spoolFsync = oneOf(v, name, ["always", "interval", "never"] as const); break;
      case "spoolFullPolicy": cfg.spoolFullPolicy = oneOf(v, name, ["drop_oldest_low_priority", "drop_newest", "block"] as const); break;
      case "kernelSensor": cfg.kernelSensor = oneOf(v, name, ["auto", "ebpf", "proc"] as const); break;
      case "ebpfHelper": cfg.ebpfHelper = resolve(String(v)); break;
      case "enforcement": cfg.enforcement = oneOf(v, name, ["enforce", "monitor"] as const); break;
      case "logLevel": cfg.logLevel = oneOf(v, name, ["debug", "info", "warn", "error"] as const); break;
      case "sensors": {
        if (!v || typeof v !== "object") throw new AgentConfigError(`${name}: expected a map of sensor: true|false`);
        for (const [s, on] of Object.entries(v)) {
          if (!(s in cfg.sensors) || typeof on !== "boolean") throw new AgentConfigError(`${name}.${s}: unknown sensor or not a boolean`);
          cfg.sensors[s as keyof AgentConfig["sensors"]] = on;
        }
        break;
      }
    }
  }
}

const ENV: Record<string, string> = {
  VIGIL_CONTROLLER: "controller", VIGIL_WATCH: "watch", VIGIL_AUTH_LOG: "authLog", VIGIL_AUDIT_LOG: "auditLog", VIGIL_SYSTEM_LOG: "systemLog", VIGIL_STATE_DIR: "stateDir", VIGIL_TAGS: "tags",
  VIGIL_PROCESS_INTERVAL_MS: "process_interval_ms", VIGIL_NETWORK_INTERVAL_MS: "network_interval_ms", VIGIL_HEARTBEAT_MS: "heartbeat_ms",
  VIGIL_SPOOL_MAX_BYTES: "spool_max_bytes", VIGIL_SPOOL_FSYNC: "spool_fsync", VIGIL_SPOOL_FSYNC_INTERVAL_MS: "spool_fsync_interval_ms", VIGIL_SPOOL_FULL_POLICY: "spool_full_policy",
  VIGIL_ENFORCEMENT: "enforcement", VIGIL_ISOLATION_ALLOW: "isolation_allow", VIGIL_ISOLATION_DNS: "isolation_dns", VIGIL_ISOLATION_DHCP: "isolation_dhcp", VIGIL_LOG_LEVEL: "logLevel",
  VIGIL_SYNTHETIC_RATE: "synthetic_rate", VIGIL_SYNTHETIC_COUNT: "synthetic_count", VIGIL_SYNTHETIC_MIX: "synthetic_mix", VIGIL_BACKOFF_MAX_MS: "backoff_max_ms",
  VIGIL_POLICY_EVENT_BUDGET_MS: "policy_event_budget_ms",
  VIGIL_KERNEL_SENSOR: "kernel_sensor", VIGIL_EBPF_HELPER: "ebpf_helper",
};

/** Precedence: defaults < config file < VIGIL_* environment < command-line flags. */
export function loadAgentConfig(flags: AgentFlags, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const cfg: AgentConfig = {
    controller: "127.0.0.1:50051",
    watch: DEFAULT_WATCH_PATHS,
    stateDir: defaultStateDir(),
    tags: [],
    processIntervalMs: 1000,
    networkIntervalMs: 2000,
    heartbeatMs: 15_000,
    spoolMaxBytes: 1024 ** 3,
    spoolFsync: "interval",
    spoolFsyncIntervalMs: 200,
    spoolFullPolicy: "drop_oldest_low_priority",
    enforcement: "enforce",
    isolationAllow: [],
    isolationDns: [],
    isolationDhcp: false,
    logLevel: "info",
    tls: false,
    sensors: { process: true, network: true, file: true, auth: true, audit: true, syslog: true },
    syntheticRate: 0,
    syntheticCount: 0,
    syntheticMix: "agent",
    backoffMaxMs: 30_000,
    policyEventBudgetMs: 100,
    kernelSensor: "auto",
  };
  const file = flags.config ?? env.VIGIL_CONFIG;
  if (file) {
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, "utf8"));
    } catch (err) {
      throw new AgentConfigError(`config file ${file}: ${(err as Error).message}`);
    }
    if (raw !== null && raw !== undefined) {
      if (typeof raw !== "object" || Array.isArray(raw)) throw new AgentConfigError(`config file ${file}: expected a YAML map of settings`);
      apply(cfg, raw as Record<string, unknown>, `config file ${file}`);
    }
  }
  const fromEnv: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) if (env[name] !== undefined && env[name] !== "") fromEnv[key] = env[name];
  apply(cfg, fromEnv, "environment");
  apply(cfg, { controller: flags.controller, watch: flags.watch?.length ? flags.watch : undefined, authLog: flags.authLog, stateDir: flags.stateDir, tags: flags.tags?.length ? flags.tags : undefined, logLevel: flags.logLevel }, "flag");
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(cfg.controller)) throw new AgentConfigError(`controller: expected HOST:PORT, got "${cfg.controller}"`);
  cfg.stateDir = resolve(cfg.stateDir);
  return cfg;
}
