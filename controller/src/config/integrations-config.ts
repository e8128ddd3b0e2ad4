import { ConfigError } from "./config-error";
import { parseDuration } from "./duration";

export interface DeliveryOptions {
  /** Sends in flight at once, across all destinations. */
  concurrency: number;
  /** Attempts before a delivery becomes a dead letter. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  timeoutMs: number;
  /** Delivered rows are kept this long for the deliveries list, then pruned. */
  keepDeliveredMs: number;
}

/** Tuning of the live stream and the webhooks, validated with the rest of the configuration. */
export interface IntegrationsConfig {
  stream: { heartbeatMs: number; maxBufferedBytes: number; maxClients: number; bufferPerTopic: number; eventsBuffer: number };
  webhooks: DeliveryOptions;
}

function int(env: NodeJS.ProcessEnv, name: string, dflt: number, min: number, max: number): number {
  const v = env[name];
  if (v === undefined || v === "") return dflt;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new ConfigError(`${name}: expected a whole number from ${min} to ${max}, got "${v}"`);
  return Number(v);
}

function duration(env: NodeJS.ProcessEnv, name: string, dflt: string): number {
  return parseDuration(env[name] ?? dflt, name);
}

export function integrationsConfig(env: NodeJS.ProcessEnv): IntegrationsConfig {
  return {
    stream: {
      heartbeatMs: duration(env, "VIGIL_STREAM_HEARTBEAT", "30s"),
      maxBufferedBytes: int(env, "VIGIL_STREAM_MAX_BUFFERED_BYTES", 4 * 1024 * 1024, 1024, 1024 ** 3),
      maxClients: int(env, "VIGIL_STREAM_MAX_CLIENTS", 500, 1, 100_000),
      bufferPerTopic: int(env, "VIGIL_STREAM_REPLAY", 1000, 10, 1_000_000),
      eventsBuffer: int(env, "VIGIL_STREAM_REPLAY_EVENTS", 5000, 10, 1_000_000),
    },
    webhooks: {
      concurrency: int(env, "VIGIL_WEBHOOK_CONCURRENCY", 4, 1, 256),
      maxAttempts: int(env, "VIGIL_WEBHOOK_MAX_ATTEMPTS", 8, 1, 100),
      baseDelayMs: duration(env, "VIGIL_WEBHOOK_BACKOFF", "2s"),
      maxDelayMs: duration(env, "VIGIL_WEBHOOK_BACKOFF_MAX", "10m"),
      timeoutMs: duration(env, "VIGIL_WEBHOOK_TIMEOUT", "10s"),
      keepDeliveredMs: duration(env, "VIGIL_WEBHOOK_KEEP_DELIVERED", "24h"),
    },
  };
}
