import { sigmahqPackEnabled } from "./pack-setting";
import { resolve } from "node:path";
import { parseDuration } from "./duration";
import { ConfigError } from "./config-error";
import { DEFAULT_SEQ_WINDOW } from "./seq-window-options";
import { EVIDENCE_ROLES, isRole, type Role } from "../http/roles";
import { integrationsConfig, type IntegrationsConfig } from "./integrations-config";
import { distributedConfig, roleConfig, type ControllerRole, type DistributedConfig } from "./distributed-config";

/** Everything the controller reads from flags and environment, validated once. */
/**
 * How the HTTP API is served: TLS with a certificate from the controller's CA (the default; its key
 * is kept so installers can pin it), TLS with the admin's certificate (VIGIL_HTTP_TLS_CERT/_KEY), or
 * plaintext, only when asked for (--insecure-http / VIGIL_INSECURE_HTTP=1: tests, a TLS proxy in front).
 */
export type HttpTlsConfig = { mode: "ca" } | { mode: "files"; certFile: string; keyFile: string } | { mode: "off" };

export interface ControllerConfig {
  httpAddr: { host: string; port: number };
  httpTls: HttpTlsConfig;
  grpcAddr: { host: string; port: number };
  databaseUrl: string;
  dataDir: string;
  /** VIGIL_SIGMAHQ_PACK=on|off (default on): load the SigmaHQ Linux pack beside the built-in rules. */
  sigmahqPack: boolean;
  eventRetentionMs: number;
  /** An agent with no message for this long is shown offline. */
  agentOfflineAfterMs: number;
  /** SQLite synchronous mode: FULL survives power loss after an ack; NORMAL only process crashes. */
  sqliteSynchronous: "FULL" | "NORMAL";
  logLevel: "debug" | "info" | "warn" | "error";
  /** Controller CA (ca.crt + ca.key); VIGIL_CA_DIR, default <dataDir>/ca. */
  caDir: string;
  /** Development only: plaintext gRPC that trusts Hello.agent_id (VIGIL_INSECURE_GRPC=1, --insecure-grpc). */
  insecureGrpc: boolean;
  /** Hostnames/IPs for the gRPC server certificate (VIGIL_TLS_NAMES); empty: localhost, loopback, host names. */
  tlsNames: string[];
  /** Lifetime of agent client certificates (VIGIL_AGENT_CERT_TTL, default 7d). */
  agentCertTtlMs: number;
  /** How often the running controller checks for revocations made by the CLI (VIGIL_REVOCATION_POLL, default 2s). */
  revocationPollMs: number;
  /** Per-API-key rate limit: sustained requests/s and burst (VIGIL_API_RATE, VIGIL_API_BURST). */
  apiRate: { perSecond: number; burst: number };
  /**
   * Failed API key checks, per client address and per key id, charged before scrypt runs:
   * sustained/s and burst (VIGIL_AUTH_FAIL_RATE, VIGIL_AUTH_FAIL_BURST; default 5/s, 20).
   */
  authFailRate: { perSecond: number; burst: number };
  /** Live stream and webhooks tuning (VIGIL_STREAM_*, VIGIL_WEBHOOK_*). */
  integrations: IntegrationsConfig;
  /** Playbook guard rails (VIGIL_MAX_AUTO_ISOLATIONS_PER_HOUR, VIGIL_PROTECTED_TAGS, VIGIL_NEVER_BLOCK). */
  guardRails: { maxAutoIsolationsPerHour: number; protectedTags: string[]; neverBlock: string[] };
  /** Agent rollout (GET /install.sh): the binary served (VIGIL_AGENT_BINARY; unset: dist/vigil-agent found from the install). */
  agentBinary?: string;
  /** The controller URL written into the served install script (VIGIL_PUBLIC_URL; unset: the HTTP listener's own address, never a request header). */
  publicUrl?: string;
  /** The gRPC HOST:PORT agents are told to connect to (VIGIL_AGENT_GRPC_ADDR; unset: the public URL's host and the gRPC port). */
  agentGrpcAddr?: string;
  /** An agent offline for this long raises an alert (VIGIL_AGENT_SILENT_ALERT_AFTER, default 10m; "off" disables). */
  agentSilentAlertAfterMs: number;
  /** The audit chain's HMAC key (VIGIL_AUDIT_KEY, >= 32 characters; unset: <dataDir>/keys/audit-chain.key, 0600). Never logged. */
  auditKey?: string;
  /** How far an agent's seqs may run ahead of what it can have produced (VIGIL_SEQ_MAX_AHEAD, VIGIL_SEQ_MAX_RATE). */
  seqWindow: { maxAhead: number; maxRatePerSec: number };
  /** Event times further than this from the receive time are stored at the receive time, marked (VIGIL_EVENT_TIME_TOLERANCE, default 24h). */
  eventTimeToleranceMs: number;
  /** An agent whose clock is off by more than this raises an alert (VIGIL_AGENT_CLOCK_SKEW_ALERT, default 5m; "off" disables). */
  agentClockSkewAlertMs: number;
  /** A connected agent with a backlog and nothing stored for this long is flagged stalled and alerted (VIGIL_AGENT_STALLED_AFTER, default 2m). */
  agentStalledAfterMs: number;
  /** Roles that may fetch file contents with collect_evidence (VIGIL_EVIDENCE_FILE_ROLES, default admin; at most admin,analyst). */
  evidenceFileRoles: Role[];
  /** Distributed mode (VIGIL_NATS_URL + PostgreSQL); undefined: one process, no NATS. */
  distributed?: DistributedConfig;
  /** What this replica runs (--role / VIGIL_ROLE, default all; other roles need distributed mode). */
  role: ControllerRole;
}

export interface ConfigFlags {
  http?: string;
  grpc?: string;
  database?: string;
  dataDir?: string;
  logLevel?: string;
  insecureGrpc?: boolean;
  /** Plaintext HTTP API (tests, or TLS terminated by a proxy on the same host). */
  insecureHttp?: boolean;
  /** --nats-url: distributed mode. */
  natsUrl?: string;
  /** --role: ingest | worker | api | all. */
  role?: string;
}

export { ConfigError };

function positiveNumber(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name}: expected a positive number, got "${v}"`);
  return n;
}

export function parseAddr(value: string, name: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  if (!m) throw new ConfigError(`${name}: expected HOST:PORT, got "${value}"`);
  const port = Number(m[3]);
  if (port > 65535) throw new ConfigError(`${name}: port ${port} out of range`);
  return { host: m[1] ?? (m[2] || "0.0.0.0"), port };
}

export function formatAddr(a: { host: string; port: number }): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function loadConfig(flags: ConfigFlags = {}, env: NodeJS.ProcessEnv = process.env): ControllerConfig {
  const dataDir = resolve(flags.dataDir ?? env.VIGIL_DATA_DIR ?? "./data");
  const databaseUrl = flags.database ?? env.VIGIL_DATABASE_URL ?? `sqlite:${dataDir}/vigil.db`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) {
    throw new ConfigError(`VIGIL_DATABASE_URL: expected sqlite:PATH or postgres://..., got "${redactUrl(databaseUrl)}"`);
  }
  const logLevel = (flags.logLevel ?? env.VIGIL_LOG_LEVEL ?? "info").toLowerCase();
  if (!["debug", "info", "warn", "error"].includes(logLevel)) throw new ConfigError(`--log-level: unknown level "${logLevel}"`);
  const sync = (env.VIGIL_SQLITE_SYNCHRONOUS ?? "FULL").toUpperCase();
  if (sync !== "FULL" && sync !== "NORMAL") throw new ConfigError(`VIGIL_SQLITE_SYNCHRONOUS: expected FULL or NORMAL`);
  const httpTls = httpTlsConfig(flags, env);
  const publicUrl = optionalUrl(env.VIGIL_PUBLIC_URL, "VIGIL_PUBLIC_URL");
  // Agents would be told to fetch the binary in plaintext from a controller that serves TLS.
  if (publicUrl?.startsWith("http:") && httpTls.mode !== "off") throw new ConfigError(`VIGIL_PUBLIC_URL: the API is served over HTTPS; use https://, not "${publicUrl}"`);
  const distributed = distributedConfig(flags.natsUrl, databaseUrl, env);
  const role = roleConfig(flags.role, env, distributed !== undefined);
  return {
    distributed,
    role,
    httpAddr: parseAddr(flags.http ?? env.VIGIL_HTTP_ADDR ?? "127.0.0.1:8080", "--http / VIGIL_HTTP_ADDR"),
    httpTls,
    grpcAddr: parseAddr(flags.grpc ?? env.VIGIL_GRPC_ADDR ?? "0.0.0.0:50051", "--grpc / VIGIL_GRPC_ADDR"),
    databaseUrl,
    dataDir,
    sigmahqPack: sigmahqPackEnabled(env),
    eventRetentionMs: parseDuration(env.VIGIL_EVENT_RETENTION ?? "30d", "VIGIL_EVENT_RETENTION"),
    agentOfflineAfterMs: parseDuration(env.VIGIL_AGENT_OFFLINE_AFTER ?? "90s", "VIGIL_AGENT_OFFLINE_AFTER"),
    sqliteSynchronous: sync,
    logLevel: logLevel as ControllerConfig["logLevel"],
    guardRails: {
      maxAutoIsolationsPerHour: intEnv(env.VIGIL_MAX_AUTO_ISOLATIONS_PER_HOUR, "VIGIL_MAX_AUTO_ISOLATIONS_PER_HOUR", 5),
      protectedTags: listEnv(env.VIGIL_PROTECTED_TAGS) ?? ["critical"],
      neverBlock: listEnv(env.VIGIL_NEVER_BLOCK) ?? [],
    },
    caDir: resolve(env.VIGIL_CA_DIR ?? `${dataDir}/ca`),
    insecureGrpc: flags.insecureGrpc ?? /^(1|true|yes)$/i.test(env.VIGIL_INSECURE_GRPC ?? ""),
    tlsNames: (env.VIGIL_TLS_NAMES ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    agentCertTtlMs: parseDuration(env.VIGIL_AGENT_CERT_TTL ?? "7d", "VIGIL_AGENT_CERT_TTL"),
    revocationPollMs: parseDuration(env.VIGIL_REVOCATION_POLL ?? "2s", "VIGIL_REVOCATION_POLL"),
    apiRate: { perSecond: positiveNumber(env.VIGIL_API_RATE ?? "20", "VIGIL_API_RATE"), burst: positiveNumber(env.VIGIL_API_BURST ?? "100", "VIGIL_API_BURST") },
    authFailRate: {
      perSecond: positiveNumber(env.VIGIL_AUTH_FAIL_RATE ?? "5", "VIGIL_AUTH_FAIL_RATE"),
      burst: positiveNumber(env.VIGIL_AUTH_FAIL_BURST ?? "20", "VIGIL_AUTH_FAIL_BURST"),
    },
    integrations: integrationsConfig(env),
    agentBinary: env.VIGIL_AGENT_BINARY ? resolve(env.VIGIL_AGENT_BINARY) : undefined,
    publicUrl,
    agentGrpcAddr: env.VIGIL_AGENT_GRPC_ADDR ? formatAddr(parseAddr(env.VIGIL_AGENT_GRPC_ADDR, "VIGIL_AGENT_GRPC_ADDR")) : undefined,
    auditKey: env.VIGIL_AUDIT_KEY || undefined,
    evidenceFileRoles: evidenceFileRoles(env.VIGIL_EVIDENCE_FILE_ROLES),
    agentSilentAlertAfterMs: /^(off|0)$/i.test(env.VIGIL_AGENT_SILENT_ALERT_AFTER ?? "") ? 0 : parseDuration(env.VIGIL_AGENT_SILENT_ALERT_AFTER || "10m", "VIGIL_AGENT_SILENT_ALERT_AFTER"),
    seqWindow: {
      maxAhead: positiveInt(env.VIGIL_SEQ_MAX_AHEAD, "VIGIL_SEQ_MAX_AHEAD", DEFAULT_SEQ_WINDOW.maxAhead),
      maxRatePerSec: positiveInt(env.VIGIL_SEQ_MAX_RATE, "VIGIL_SEQ_MAX_RATE", DEFAULT_SEQ_WINDOW.maxRatePerSec),
    },
    // Never as wide as retention: an event stamped just inside the tolerance would be deleted on arrival.
    eventTimeToleranceMs: Math.min(
      parseDuration(env.VIGIL_EVENT_TIME_TOLERANCE || "24h", "VIGIL_EVENT_TIME_TOLERANCE"),
      Math.floor(parseDuration(env.VIGIL_EVENT_RETENTION ?? "30d", "VIGIL_EVENT_RETENTION") / 2),
    ),
    agentClockSkewAlertMs: /^(off|0)$/i.test(env.VIGIL_AGENT_CLOCK_SKEW_ALERT ?? "") ? 0 : parseDuration(env.VIGIL_AGENT_CLOCK_SKEW_ALERT || "5m", "VIGIL_AGENT_CLOCK_SKEW_ALERT"),
    agentStalledAfterMs: parseDuration(env.VIGIL_AGENT_STALLED_AFTER || "2m", "VIGIL_AGENT_STALLED_AFTER"),
  };
}

function httpTlsConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv): HttpTlsConfig {
  const cert = env.VIGIL_HTTP_TLS_CERT;
  const key = env.VIGIL_HTTP_TLS_KEY;
  if (flags.insecureHttp ?? /^(1|true|yes)$/i.test(env.VIGIL_INSECURE_HTTP ?? "")) {
    if (cert || key) throw new ConfigError("VIGIL_HTTP_TLS_CERT/_KEY and --insecure-http / VIGIL_INSECURE_HTTP contradict each other");
    return { mode: "off" };
  }
  if (!cert !== !key) throw new ConfigError("VIGIL_HTTP_TLS_CERT and VIGIL_HTTP_TLS_KEY go together: set both or neither");
  return cert && key ? { mode: "files", certFile: resolve(cert), keyFile: resolve(key) } : { mode: "ca" };
}

function optionalUrl(v: string | undefined, name: string): string | undefined {
  if (!v) return undefined;
  if (!/^https?:\/\/[A-Za-z0-9.\-[\]:]+(\/[A-Za-z0-9._~\-/]*)?$/.test(v)) throw new ConfigError(`${name}: expected an http(s) URL like https://vigil.example.com, got "${v}"`);
  return v.replace(/\/+$/, "");
}

function positiveInt(v: string | undefined, name: string, dflt: number): number {
  const n = intEnv(v, name, dflt);
  if (n <= 0 || !Number.isSafeInteger(n)) throw new ConfigError(`${name}: expected a positive whole number, got "${v}"`);
  return n;
}

function intEnv(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined || v === "") return dflt;
  if (!/^\d+$/.test(v)) throw new ConfigError(`${name}: expected a whole number, got "${v}"`);
  return Number(v);
}

function listEnv(v: string | undefined): string[] | undefined {
  return v === undefined
    ? undefined
    : v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
}

/** Database URLs may carry passwords; never print them. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@]*)@/, "//$1:***@");
}

function evidenceFileRoles(v: string | undefined): Role[] {
  const roles = listEnv(v) ?? ["admin"];
  for (const r of roles)
    if (!isRole(r) || !EVIDENCE_ROLES.includes(r))
      throw new ConfigError(`VIGIL_EVIDENCE_FILE_ROLES: expected admin and/or analyst (file contents are never for readonly or integration keys), got "${r}"`);
  return roles as Role[];
}
