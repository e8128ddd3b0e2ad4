import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { ConfigError } from "./config-error";

/** Distributed mode: several replicas on one PostgreSQL, talking over NATS. */
export interface ClusterConfig {
  /** VIGIL_NATS_URL (one URL or a comma-separated list); unset: one process, no NATS (the default). */
  natsUrl?: string;
  /** VIGIL_NATS_PREFIX (default "vigil"): every subject, stream and bucket name starts with it. */
  natsPrefix: string;
  /** VIGIL_REPLICA_ID: this replica's name among the others (default host-pid-random: unique per start). */
  replicaId: string;
}

const PREFIX = /^[A-Za-z0-9_-]{1,32}$/;
const REPLICA = /^[A-Za-z0-9._:-]{1,64}$/;

export function clusterConfig(env: NodeJS.ProcessEnv, databaseUrl: string): ClusterConfig {
  const natsUrl = env.VIGIL_NATS_URL?.trim() || undefined;
  if (natsUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError("VIGIL_NATS_URL (distributed mode) needs PostgreSQL: replicas share one database, which SQLite cannot be");
  const natsPrefix = env.VIGIL_NATS_PREFIX ?? "vigil";
  if (!PREFIX.test(natsPrefix)) throw new ConfigError(`VIGIL_NATS_PREFIX: expected 1-32 characters of A-Z a-z 0-9 _ -, got "${natsPrefix.slice(0, 40)}"`);
  const fallback = `${hostname()
    .replace(/[^A-Za-z0-9_-]/g, "_")
    .slice(0, 40)}-${process.pid}-${randomBytes(3).toString("hex")}`;
  const replicaId = env.VIGIL_REPLICA_ID?.trim() || fallback;
  if (!REPLICA.test(replicaId)) throw new ConfigError(`VIGIL_REPLICA_ID: expected 1-64 characters of A-Z a-z 0-9 . _ : -, got "${replicaId.slice(0, 70)}"`);
  return { natsUrl, natsPrefix, replicaId };
}
