import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { ConfigError } from "./config-error";
import { parseDuration } from "./duration";

/** What one replica does (serve --role / VIGIL_ROLE). Every role serves the HTTP API (health, metrics). */
export type ControllerRole = "all" | "ingest" | "worker" | "api";
export const ROLES: readonly ControllerRole[] = ["all", "ingest", "worker", "api"];

/** Distributed mode (#12): replicas share PostgreSQL and NATS JetStream. */
export interface DistributedConfig {
  /** VIGIL_NATS_URL / --nats-url: one URL or a comma-separated list. May carry credentials: never logged as is. */
  natsUrl: string;
  /** VIGIL_NATS_PREFIX (default "vigil"): every subject, stream and bucket name starts with it. */
  prefix: string;
  /** VIGIL_PARTITIONS (default 16): must be the same on every replica. */
  partitions: number;
  /** VIGIL_PARTITION_LEASE_TTL (default 10s): how long a dead replica's partitions wait before others take them. */
  leaseTtlMs: number;
  /** VIGIL_REPLICA_ID (default <hostname>-<pid>-<random>): how this replica is known in leases. */
  replicaId: string;
  /** VIGIL_EVENTS_STREAM_MAX_AGE (default 24h): batches no worker stored within this are dropped by JetStream. */
  eventsMaxAgeMs: number;
  /**
   * VIGIL_CORRELATION_REPLAY (default 2h): how far back a replica taking a correlation partition
   * replays its inputs to rebuild the windows; at least the longest correlation timespan (a chain:
   * the sum of its steps) plus the reorder tolerance.
   */
  correlationReplayMs: number;
  /** VIGIL_STORAGE_PG_CONNECTIONS (default 4): the storage consumer's own PostgreSQL connections. */
  storageConnections: number;
}

export function isRole(v: string): v is ControllerRole {
  return (ROLES as readonly string[]).includes(v);
}

export function roleConfig(flag: string | undefined, env: NodeJS.ProcessEnv, distributed: boolean): ControllerRole {
  const role = (flag ?? env.VIGIL_ROLE ?? "all").toLowerCase();
  if (!isRole(role)) throw new ConfigError(`--role / VIGIL_ROLE: expected one of ${ROLES.join(", ")}, got "${role}"`);
  if (role !== "all" && !distributed) throw new ConfigError(`--role ${role} needs distributed mode (VIGIL_NATS_URL with a PostgreSQL VIGIL_DATABASE_URL); a single controller runs every role`);
  return role;
}

const TOKEN = /^[A-Za-z0-9_-]{1,64}$/;

export function distributedConfig(natsFlag: string | undefined, databaseUrl: string, env: NodeJS.ProcessEnv): DistributedConfig | undefined {
  const natsUrl = (natsFlag ?? env.VIGIL_NATS_URL ?? "").trim();
  if (!natsUrl) return undefined;
  if (!/^postgres(ql)?:\/\//.test(databaseUrl))
    throw new ConfigError("VIGIL_NATS_URL (distributed mode) needs PostgreSQL: set VIGIL_DATABASE_URL=postgres://...; SQLite is a single process's database");
  for (const s of natsUrl.split(",")) {
    if (!/^((nats|tls|ws|wss):\/\/)?[^\s/]+(:\d{1,5})?\/?$/.test(s.trim())) throw new ConfigError("VIGIL_NATS_URL: expected nats://HOST:PORT (comma-separated for several)");
  }
  const prefix = env.VIGIL_NATS_PREFIX ?? "vigil";
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(prefix)) throw new ConfigError(`VIGIL_NATS_PREFIX: 1-32 characters of [A-Za-z0-9_-], got "${prefix.slice(0, 40)}"`);
  const partitions = Number(env.VIGIL_PARTITIONS ?? 16);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) throw new ConfigError(`VIGIL_PARTITIONS: a whole number from 1 to 1024, got "${env.VIGIL_PARTITIONS}"`);
  const leaseTtlMs = parseDuration(env.VIGIL_PARTITION_LEASE_TTL || "10s", "VIGIL_PARTITION_LEASE_TTL");
  if (leaseTtlMs < 1_000) throw new ConfigError("VIGIL_PARTITION_LEASE_TTL: at least 1s");
  const replicaId =
    env.VIGIL_REPLICA_ID ??
    `${hostname()
      .replace(/[^A-Za-z0-9_-]/g, "_")
      .slice(0, 40)}-${process.pid}-${randomBytes(3).toString("hex")}`;
  if (!TOKEN.test(replicaId)) throw new ConfigError("VIGIL_REPLICA_ID: 1-64 characters of [A-Za-z0-9_-]");
  const storageConnections = Number(env.VIGIL_STORAGE_PG_CONNECTIONS ?? 4);
  if (!Number.isInteger(storageConnections) || storageConnections < 1 || storageConnections > 64) throw new ConfigError("VIGIL_STORAGE_PG_CONNECTIONS: a whole number from 1 to 64");
  return {
    natsUrl,
    prefix,
    partitions,
    leaseTtlMs,
    replicaId,
    eventsMaxAgeMs: parseDuration(env.VIGIL_EVENTS_STREAM_MAX_AGE || "24h", "VIGIL_EVENTS_STREAM_MAX_AGE"),
    correlationReplayMs: parseDuration(env.VIGIL_CORRELATION_REPLAY || "2h", "VIGIL_CORRELATION_REPLAY"),
    storageConnections,
  };
}
