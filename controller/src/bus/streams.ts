import { jetstreamManager, RetentionPolicy, StorageType, DiscardPolicy, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

/** The default prefix of every subject, stream and bucket (VIGIL_NATS_PREFIX); tests use their own to stay apart. */
export const DEFAULT_NATS_PREFIX = "vigil";

const PREFIX_RE = /^[A-Za-z0-9_-]{1,32}$/;
/** Subject tokens Vigil builds from ids: no dots, wildcards or whitespace can reach a subject. */
const TOKEN_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** Checks a prefix: it becomes part of subjects and stream names, so only [A-Za-z0-9_-]. */
export function checkPrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) throw new Error(`VIGIL_NATS_PREFIX must be 1-32 characters of [A-Za-z0-9_-] (got ${JSON.stringify(prefix.slice(0, 40))})`);
  return prefix;
}

/** True when the id can be one subject token as it is. */
export function isSubjectToken(id: string): boolean {
  return TOKEN_RE.test(id);
}

/**
 * Every JetStream name Vigil uses, derived from one prefix. Subjects are `<prefix>.…`; stream and
 * bucket names cannot hold dots, so they are `<PREFIX>_…`.
 */
export class BusNames {
  readonly prefix: string;
  private readonly upper: string;

  constructor(prefix: string = DEFAULT_NATS_PREFIX) {
    this.prefix = checkPrefix(prefix);
    this.upper = prefix.toUpperCase().replace(/-/g, "_");
  }

  /** Agent event batches: `<prefix>.events.<partition>.<agentId>`. */
  get eventsStream(): string {
    return `${this.upper}_EVENTS`;
  }
  eventsSubject(partition: number, agentId: string): string {
    if (!isSubjectToken(agentId)) throw new Error("agent id is not a valid subject token");
    return `${this.prefix}.events.${partition}.${agentId}`;
  }
  eventsPartitionFilter(partition: number): string {
    return `${this.prefix}.events.${partition}.>`;
  }
  get eventsWildcard(): string {
    return `${this.prefix}.events.>`;
  }
  /** The durable storage consumer of one partition. */
  storageConsumer(partition: number): string {
    return `${this.upper}_store_${partition}`;
  }

  /** The durable detection consumer of one partition: it reads the events stream apart from storage. */
  detectionConsumer(partition: number): string {
    return `${this.upper}_detect_${partition}`;
  }
  /** Detection's offsets, kept in stream_offsets under a name of their own (storage's are under eventsStream). */
  get detectionOffsets(): string {
    return `${this.eventsStream}:detect`;
  }

  /** Correlation inputs re-keyed by group: `<prefix>.corr.<partition>` (dist-corr). */
  get corrStream(): string {
    return `${this.upper}_CORR`;
  }
  corrSubject(partition: number): string {
    return `${this.prefix}.corr.${partition}`;
  }
  get corrWildcard(): string {
    return `${this.prefix}.corr.>`;
  }

  /** Partition ownership and replica membership (see partition-leases.ts). One bucket per use, so TTLs can differ. */
  leaseBucket(use: string): string {
    if (!TOKEN_RE.test(use)) throw new Error("lease bucket use must be a token");
    return `${this.upper}_leases_${use}`;
  }
  /** Which replica holds which agent's stream (dist-cmd). */
  get presenceBucket(): string {
    return `${this.upper}_presence`;
  }
  /** Core-NATS subjects per agent (commands nudges, etc.). */
  agentSubject(agentId: string, what: string): string {
    if (!isSubjectToken(agentId) || !TOKEN_RE.test(what)) throw new Error("agent id / suffix is not a valid subject token");
    return `${this.prefix}.agent.${agentId}.${what}`;
  }
}

export interface EventsStreamOptions {
  /** How long unconsumed batches are kept (ms): workers down longer than this lose them. Default 24 h. */
  maxAgeMs?: number;
  /** Bound on the stream's disk use; when full, publishes are refused (agents keep spooling) rather than old data dropped. */
  maxBytes?: number;
  /** The window in which a repeated message id is dropped by the server. Default 2 min. */
  duplicateWindowMs?: number;
}

const ms = (n: number) => n * 1_000_000; // JetStream durations are nanoseconds

/**
 * Creates a stream or brings an existing one to the given config. Idempotent: every replica calls
 * it at start-up, in any order, concurrently.
 */
export async function ensureStream(jsm: JetStreamManager, cfg: Partial<StreamConfig> & { name: string; subjects: string[] }): Promise<void> {
  try {
    const info = await jsm.streams.info(cfg.name);
    const cur = info.config;
    const same =
      JSON.stringify(cur.subjects) === JSON.stringify(cfg.subjects) && (cfg.max_age === undefined || cur.max_age === cfg.max_age) && (cfg.max_bytes === undefined || cur.max_bytes === cfg.max_bytes);
    if (!same) await jsm.streams.update(cfg.name, { ...cur, ...cfg });
    return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  try {
    await jsm.streams.add(cfg);
  } catch (err) {
    // Another replica created it between our info and add: fine.
    if (!/already in use|already exists/i.test(String(err))) throw err;
  }
}

function isNotFound(err: unknown): boolean {
  return /not found/i.test(String(err)) || (err as { code?: unknown })?.code === "404";
}

/** The events stream (limits retention: the storage consumers track their own offsets in PostgreSQL). */
export async function ensureEventsStream(jsm: JetStreamManager, names: BusNames, o: EventsStreamOptions = {}): Promise<void> {
  await ensureStream(jsm, {
    name: names.eventsStream,
    subjects: [names.eventsWildcard],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: ms(o.maxAgeMs ?? 24 * 3600_000),
    max_bytes: o.maxBytes ?? -1,
    duplicate_window: ms(o.duplicateWindowMs ?? 120_000),
    num_replicas: 1,
  });
}

/** A KV bucket with a TTL on every key (values expire ttlMs after their last write). Creates or opens. */
export async function ensureKv(nc: NatsConnection, bucket: string, ttlMs: number, history = 1): Promise<KV> {
  return new Kvm(nc).create(bucket, { ttl: ttlMs, history, storage: StorageType.Memory });
}

export async function manager(nc: NatsConnection): Promise<JetStreamManager> {
  return jetstreamManager(nc);
}

/** Deletes every stream and bucket made with this prefix: tests call it to clean up after themselves. */
export async function deleteAllWithPrefix(nc: NatsConnection, names: BusNames): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const upper = names.eventsStream.slice(0, -"_EVENTS".length);
  const mine = new RegExp(`^(KV_)?${upper}_(EVENTS|CORR|presence|leases_[A-Za-z0-9_-]+)$`);
  const found: string[] = [];
  for await (const s of jsm.streams.names()) if (mine.test(s)) found.push(s);
  for (const s of found) await jsm.streams.delete(s).catch(() => undefined);
}
