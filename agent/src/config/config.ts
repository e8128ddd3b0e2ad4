import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { DEFAULT_WATCH_PATHS } from "../sensors/file/watch-paths";
import { parseMix } from "../sensors/synthetic/mix";

export class AgentConfigError extends Error {}

export { DEFAULT_WATCH_PATHS };

export interface AgentConfig {
  controller: string;
  watch: string[];
  authLog?: string;
  /** auditd's log; default /var/log/audit/audit.log. */
  auditLog?: string;
  /** Audit record types kept in each audit event; empty keeps all. */
  auditTypes: string[];
  /** Audit events per second at most; 0 = no cap (drops are counted in the sensor's health). */
  auditMaxEventsPerSec: number;
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
  /** Paths collect_evidence never reads, on top of the built-in deny list (e.g. a controller data dir on this host). */
  evidenceDeny: string[];
  logLevel: "debug" | "info" | "warn" | "error";
  /** TLS material written by `enroll`; absent means a plaintext (development) connection. */
  tls: boolean;
  sensors: { process: boolean; network: boolean; file: boolean; auth: boolean; audit: boolean; syslog: boolean; dns: boolean };
  /** DNS events per second at most (the eBPF DNS sensor); 0 = no cap. Names are learned past the cap; the events over it are counted. */
  dnsMaxEventsPerSec: number;
  /** Numbered test events per second (0 = off); see sensors/synthetic. */
  syntheticRate: number;
  /** Total numbered events over the state dir's life; 0 = no end. */
  syntheticCount: number;
  /** Kinds and weights of synthetic events, e.g. "process:8,auth:1,agent:1". */
  syntheticMix: string;
  /** Cap of the reconnect backoff. */
  backoffMaxMs: number;
  /** After the controller refuses this agent for good (revoked, pinned key mismatch): wait this long (half to all of it) before trying again. */
  fatalBackoffMs: number;
  /** What a fatal refusal does: back off long and keep the agent running (local policy, spool), or exit (code 78) for the service manager. */
  onFatal: "backoff" | "exit";
  /** Watchdog: resident memory ceiling (MiB) and sustained CPU ceiling (% of one core over the window); 0 turns a check off. */
  watchdogMaxRssMb: number;
  watchdogMaxCpuPercent: number;
  watchdogWindowMs: number;
  /**
   * Test hook, from VIGIL_TEST_ALLOCATE_MB_PER_S only (not a setting): the agent allocates and
   * keeps this many MiB per second, so a test can drive the watchdog with a real process.
   */
  testAllocateMbPerSec: number;
  /** Longest one event may take in local policy evaluation before it is counted and reported. */
  policyEventBudgetMs: number;
  /**
   * Where process, connection and file-writer events come from: "auto" uses the kernel (eBPF) when
   * it can and falls back to /proc polling; "ebpf" requires it; "proc" never loads it.
   */
  kernelSensor: "auto" | "ebpf" | "audit" | "proc";
  /** An eBPF helper to run instead of the one embedded in the agent binary. */
  ebpfHelper?: string;
  /** auditd's af_unix dispatcher socket for the audit exec source; default: the one its plugin config declares. */
  auditSocket?: string;
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
  /** Any other setting given as a flag, by its config-file key (`spool_max_bytes`); see SETTINGS. */
  settings?: Record<string, unknown>;
}

/**
 * Every setting, once: its config-file key, the config field, how a flag takes it and what it does.
 * The config-file keys, the `vigil-agent run` flags (`--spool-max-bytes`) and their help are all
 * generated from this table, so they cannot drift apart.
 */
export interface SettingSpec {
  key: string;
  field: keyof AgentConfig;
  /** Placeholder for the value in help ("HOST:PORT"). */
  arg: string;
  help: string;
  /** A list: the flag repeats (`--watch A --watch B`) and takes commas. */
  list?: boolean;
  /** Older or camelCase spellings still accepted in the file. */
  aliases?: string[];
}

export const SETTINGS: readonly SettingSpec[] = [
  { key: "controller", field: "controller", arg: "HOST:PORT", help: "controller gRPC address (default 127.0.0.1:50051)" },
  { key: "state_dir", field: "stateDir", arg: "DIR", help: "spool, offsets, identity (default /var/lib/vigil as root)", aliases: ["stateDir"] },
  { key: "tags", field: "tags", arg: "TAG", help: "agent tags (self-reported; the enrollment token's are trusted)", list: true },
  { key: "log_level", field: "logLevel", arg: "LEVEL", help: "debug|info|warn|error (default info)", aliases: ["logLevel"] },
  { key: "enforcement", field: "enforcement", arg: "MODE", help: "enforce|monitor: monitor records response actions without enforcing them (default enforce)" },
  {
    key: "kernel_sensor",
    field: "kernelSensor",
    arg: "MODE",
    help: "auto|ebpf|audit|proc: where process, connection and file-writer events come from (default auto: eBPF, else auditd, else /proc polling)",
  },
  { key: "audit_socket", field: "auditSocket", arg: "SOCKET", help: "auditd's af_unix dispatcher socket for exec records (default: from /etc/audit/plugins.d/af_unix.conf)" },
  { key: "ebpf_helper", field: "ebpfHelper", arg: "FILE", help: "an eBPF helper to run instead of the embedded one" },
  { key: "sensors", field: "sensors", arg: "NAME=BOOL,...", help: "turn sensors on or off: process, network, file, auth, audit, syslog, dns (e.g. audit=false)" },
  { key: "watch", field: "watch", arg: "PATH", help: "file integrity paths (default /etc, ~/.ssh, cron, systemd units, /usr/local/bin)", list: true },
  { key: "auth_log", field: "authLog", arg: "FILE", help: "auth log to follow (default /var/log/auth.log, /var/log/secure, else the journal)", aliases: ["authLog"] },
  { key: "audit_log", field: "auditLog", arg: "FILE", help: "auditd's log (default /var/log/audit/audit.log)", aliases: ["auditLog"] },
  { key: "audit_types", field: "auditTypes", arg: "TYPE", help: "audit record types kept in each audit event, e.g. SYSCALL,EXECVE,PATH (default: all)", list: true },
  { key: "audit_max_events_per_sec", field: "auditMaxEventsPerSec", arg: "N", help: "audit events per second at most; the rest are dropped and counted (default 0 = no cap)" },
  { key: "dns_max_events_per_sec", field: "dnsMaxEventsPerSec", arg: "N", help: "DNS query events per second at most; the rest are counted, not sent (default 200, 0 = no cap)" },
  { key: "system_log", field: "systemLog", arg: "FILE", help: 'system log (default /var/log/syslog, /var/log/messages); "journal" follows the whole journal', aliases: ["systemLog"] },
  { key: "process_interval_ms", field: "processIntervalMs", arg: "MS", help: "/proc polling interval when not using eBPF (default 1000)" },
  { key: "network_interval_ms", field: "networkIntervalMs", arg: "MS", help: "/proc/net polling interval (default 2000)" },
  { key: "heartbeat_ms", field: "heartbeatMs", arg: "MS", help: "status heartbeat to the controller (default 15000)" },
  { key: "spool_max_bytes", field: "spoolMaxBytes", arg: "BYTES", help: "disk spool size cap (default 1 GiB, at least 1 MiB)" },
  { key: "spool_fsync", field: "spoolFsync", arg: "MODE", help: "always|interval|never (default interval)" },
  { key: "spool_fsync_interval_ms", field: "spoolFsyncIntervalMs", arg: "MS", help: "with spool_fsync interval: most time between syncs (default 200)" },
  { key: "spool_full_policy", field: "spoolFullPolicy", arg: "POLICY", help: "drop_oldest_low_priority|drop_newest|block (default drop_oldest_low_priority)" },
  { key: "isolation_allow", field: "isolationAllow", arg: "CIDR", help: "still reachable while isolated (admin access)", list: true },
  { key: "isolation_dns", field: "isolationDns", arg: "IP", help: "resolvers still reachable (port 53) while isolated", list: true },
  { key: "isolation_dhcp", field: "isolationDhcp", arg: "BOOL", help: "keep DHCP working while isolated (default false)" },
  {
    key: "evidence_deny",
    field: "evidenceDeny",
    arg: "PATH",
    help: "paths collect_evidence never reads, besides the built-in deny list (e.g. a controller data dir here)",
    list: true,
    aliases: ["evidenceDeny"],
  },
  { key: "policy_event_budget_ms", field: "policyEventBudgetMs", arg: "MS", help: "local policy: the most time one event may take to evaluate (default 100)" },
  { key: "backoff_max_ms", field: "backoffMaxMs", arg: "MS", help: "cap of the reconnect backoff (default 30000)" },
  { key: "fatal_backoff_ms", field: "fatalBackoffMs", arg: "MS", help: "wait after the controller refuses this agent (revoked, pinned key mismatch) (default 600000)" },
  { key: "on_fatal", field: "onFatal", arg: "ACTION", help: "backoff|exit: after a fatal refusal keep running and retry later, or exit with code 78 (default backoff)" },
  { key: "watchdog_max_rss_mb", field: "watchdogMaxRssMb", arg: "MIB", help: "restart the agent when its resident memory stays above this (default 300; 0 = off)" },
  { key: "watchdog_max_cpu_percent", field: "watchdogMaxCpuPercent", arg: "PCT", help: "restart the agent when it uses more than this % of a core over the window (default 50; 0 = off)" },
  { key: "watchdog_window_ms", field: "watchdogWindowMs", arg: "MS", help: "how long a ceiling must be exceeded before the watchdog acts (default 120000)" },
  { key: "synthetic_rate", field: "syntheticRate", arg: "N", help: "numbered test events per second (testing; default 0 = off)" },
  { key: "synthetic_count", field: "syntheticCount", arg: "N", help: "total numbered test events (0 = no end)" },
  { key: "synthetic_mix", field: "syntheticMix", arg: "MIX", help: "kinds and weights of test events, e.g. process:8,auth:1" },
];

const KEYS: Record<string, keyof AgentConfig> = Object.fromEntries(SETTINGS.flatMap((s) => [[s.key, s.field] as const, ...(s.aliases ?? []).map((a) => [a, s.field] as const)]));

function defaultStateDir(): string {
  return process.getuid?.() === 0 ? "/var/lib/vigil" : join(homedir(), ".local", "state", "vigil");
}

function list(v: unknown, name: string): string[] {
  if (typeof v === "string")
    return v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
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
      case "controller":
      case "authLog":
      case "auditLog":
      case "systemLog":
      case "stateDir":
        if (typeof v !== "string" || !v) throw new AgentConfigError(`${name}: expected a non-empty string`);
        cfg[key] = v;
        break;
      case "isolationDhcp":
        if (typeof v !== "boolean" && v !== "true" && v !== "false") throw new AgentConfigError(`${name}: expected true or false`);
        cfg.isolationDhcp = v === true || v === "true";
        break;
      case "watch":
      case "tags":
      case "isolationAllow":
      case "isolationDns":
        cfg[key] = list(v, name);
        break;
      case "evidenceDeny":
        cfg.evidenceDeny = list(v, name).map((p) => {
          if (!p.startsWith("/")) throw new AgentConfigError(`${name}: expected absolute paths, got "${p.slice(0, 256)}"`);
          return resolve(p);
        });
        break;
      case "auditTypes": {
        const types = list(v, name).map((t) => t.toUpperCase());
        const bad = types.find((t) => !/^[A-Z0-9_]{1,32}$/.test(t));
        if (bad !== undefined || types.length > 64) throw new AgentConfigError(`${name}: expected at most 64 audit record types like SYSCALL, EXECVE, PATH`);
        cfg.auditTypes = types;
        break;
      }
      case "auditMaxEventsPerSec":
        cfg.auditMaxEventsPerSec = int(v, name, 0, 1_000_000);
        break;
      case "dnsMaxEventsPerSec":
        cfg.dnsMaxEventsPerSec = int(v, name, 0, 1_000_000);
        break;
      case "spoolFsyncIntervalMs":
        cfg.spoolFsyncIntervalMs = int(v, name, 1, 60_000);
        break;
      case "processIntervalMs":
      case "networkIntervalMs":
      case "heartbeatMs":
        cfg[key] = int(v, name, 100, 3_600_000);
        break;
      case "syntheticRate":
        cfg.syntheticRate = int(v, name, 0, 1_000_000);
        break;
      case "syntheticCount":
        cfg.syntheticCount = int(v, name, 0, Number.MAX_SAFE_INTEGER);
        break;
      case "backoffMaxMs":
        cfg.backoffMaxMs = int(v, name, 100, 3_600_000);
        break;
      case "fatalBackoffMs":
        cfg.fatalBackoffMs = int(v, name, 100, 24 * 3_600_000);
        break;
      case "onFatal":
        cfg.onFatal = oneOf(v, name, ["backoff", "exit"] as const);
        break;
      case "watchdogMaxRssMb":
        cfg.watchdogMaxRssMb = int(v, name, 0, 1 << 20);
        break;
      case "watchdogMaxCpuPercent":
        cfg.watchdogMaxCpuPercent = int(v, name, 0, 100 * 1024);
        break;
      case "watchdogWindowMs":
        cfg.watchdogWindowMs = int(v, name, 1_000, 3_600_000);
        break;
      case "policyEventBudgetMs":
        cfg.policyEventBudgetMs = int(v, name, 1, 60_000);
        break;
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
      case "spoolFsync":
        cfg.spoolFsync = oneOf(v, name, ["always", "interval", "never"] as const);
        break;
      case "spoolFullPolicy":
        cfg.spoolFullPolicy = oneOf(v, name, ["drop_oldest_low_priority", "drop_newest", "block"] as const);
        break;
      case "kernelSensor":
        cfg.kernelSensor = oneOf(v, name, ["auto", "ebpf", "audit", "proc"] as const);
        break;
      case "ebpfHelper":
        cfg.ebpfHelper = resolve(String(v));
        break;
      case "auditSocket":
        cfg.auditSocket = resolve(String(v));
        break;
      case "enforcement":
        cfg.enforcement = oneOf(v, name, ["enforce", "monitor"] as const);
        break;
      case "logLevel":
        cfg.logLevel = oneOf(v, name, ["debug", "info", "warn", "error"] as const);
        break;
      case "sensors": {
        // From a flag or the environment: "audit=false,syslog=false".
        const map = typeof v === "string" ? sensorMap(v, name) : v;
        if (!map || typeof map !== "object") throw new AgentConfigError(`${name}: expected a map of sensor: true|false`);
        for (const [s, on] of Object.entries(map)) {
          if (!(s in cfg.sensors) || typeof on !== "boolean") throw new AgentConfigError(`${name}.${s}: unknown sensor or not a boolean`);
          cfg.sensors[s as keyof AgentConfig["sensors"]] = on;
        }
        break;
      }
    }
  }
}

function sensorMap(text: string, name: string): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const part of text
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z]+)=(true|false|on|off)$/.exec(part);
    if (!m) throw new AgentConfigError(`${name}: expected NAME=true|false[,...], got "${part.slice(0, 64)}"`);
    out[m[1]!] = m[2] === "true" || m[2] === "on";
  }
  return out;
}

const ENV: Record<string, string> = {
  VIGIL_CONTROLLER: "controller",
  VIGIL_WATCH: "watch",
  VIGIL_AUTH_LOG: "authLog",
  VIGIL_AUDIT_LOG: "auditLog",
  VIGIL_SYSTEM_LOG: "systemLog",
  VIGIL_STATE_DIR: "stateDir",
  VIGIL_TAGS: "tags",
  VIGIL_PROCESS_INTERVAL_MS: "process_interval_ms",
  VIGIL_NETWORK_INTERVAL_MS: "network_interval_ms",
  VIGIL_HEARTBEAT_MS: "heartbeat_ms",
  VIGIL_SPOOL_MAX_BYTES: "spool_max_bytes",
  VIGIL_SPOOL_FSYNC: "spool_fsync",
  VIGIL_SPOOL_FSYNC_INTERVAL_MS: "spool_fsync_interval_ms",
  VIGIL_SPOOL_FULL_POLICY: "spool_full_policy",
  VIGIL_ENFORCEMENT: "enforcement",
  VIGIL_ISOLATION_ALLOW: "isolation_allow",
  VIGIL_ISOLATION_DNS: "isolation_dns",
  VIGIL_ISOLATION_DHCP: "isolation_dhcp",
  VIGIL_EVIDENCE_DENY: "evidence_deny",
  VIGIL_LOG_LEVEL: "logLevel",
  VIGIL_SYNTHETIC_RATE: "synthetic_rate",
  VIGIL_SYNTHETIC_COUNT: "synthetic_count",
  VIGIL_SYNTHETIC_MIX: "synthetic_mix",
  VIGIL_BACKOFF_MAX_MS: "backoff_max_ms",
  VIGIL_FATAL_BACKOFF_MS: "fatal_backoff_ms",
  VIGIL_ON_FATAL: "on_fatal",
  VIGIL_WATCHDOG_MAX_RSS_MB: "watchdog_max_rss_mb",
  VIGIL_WATCHDOG_MAX_CPU_PERCENT: "watchdog_max_cpu_percent",
  VIGIL_WATCHDOG_WINDOW_MS: "watchdog_window_ms",
  VIGIL_POLICY_EVENT_BUDGET_MS: "policy_event_budget_ms",
  VIGIL_KERNEL_SENSOR: "kernel_sensor",
  VIGIL_EBPF_HELPER: "ebpf_helper",
  VIGIL_AUDIT_SOCKET: "audit_socket",
  VIGIL_AUDIT_TYPES: "audit_types",
  VIGIL_AUDIT_MAX_EVENTS_PER_SEC: "audit_max_events_per_sec",
  VIGIL_DNS_MAX_EVENTS_PER_SEC: "dns_max_events_per_sec",
};

/**
 * Secrets and one-shot values `enroll` takes from the environment (never settings: they must not
 * land in a config file or status). Read here so the agent reads its environment in one module.
 */
export function enrollEnvironment(env: NodeJS.ProcessEnv = process.env): { token?: string; caPin?: string } {
  return { token: env.VIGIL_ENROLL_TOKEN || undefined, caPin: env.VIGIL_CA_PIN || undefined };
}

/** Precedence: defaults < config file < VIGIL_* environment < command-line flags. */
export function loadAgentConfig(flags: AgentFlags, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const cfg: AgentConfig = {
    controller: "127.0.0.1:50051",
    watch: [...DEFAULT_WATCH_PATHS],
    auditTypes: [],
    auditMaxEventsPerSec: 0,
    dnsMaxEventsPerSec: 200,
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
    evidenceDeny: [],
    logLevel: "info",
    tls: false,
    sensors: { process: true, network: true, file: true, auth: true, audit: true, syslog: true, dns: true },
    syntheticRate: 0,
    syntheticCount: 0,
    syntheticMix: "agent",
    backoffMaxMs: 30_000,
    fatalBackoffMs: 600_000,
    onFatal: "backoff",
    watchdogMaxRssMb: 300,
    watchdogMaxCpuPercent: 50,
    watchdogWindowMs: 120_000,
    testAllocateMbPerSec: 0,
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
  if (env.VIGIL_TEST_ALLOCATE_MB_PER_S) cfg.testAllocateMbPerSec = int(env.VIGIL_TEST_ALLOCATE_MB_PER_S, "environment: VIGIL_TEST_ALLOCATE_MB_PER_S", 0, 1024);
  apply(cfg, flags.settings ?? {}, "flag");
  apply(
    cfg,
    {
      controller: flags.controller,
      watch: flags.watch?.length ? flags.watch : undefined,
      authLog: flags.authLog,
      stateDir: flags.stateDir,
      tags: flags.tags?.length ? flags.tags : undefined,
      logLevel: flags.logLevel,
    },
    "flag",
  );
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(cfg.controller)) throw new AgentConfigError(`controller: expected HOST:PORT, got "${cfg.controller}"`);
  cfg.stateDir = resolve(cfg.stateDir);
  // The agent's own config file (it may name tokens or internal addresses) is never evidence.
  if (file) cfg.evidenceDeny.push(resolve(file));
  return cfg;
}
