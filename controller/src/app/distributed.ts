import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import { closeBus, connectBus } from "../bus/nats-connection";
import { PartitionLeases, type PartitionLeaseStats } from "../bus/partition-leases";
import { ReplicaStatus, type ReplicaProbe } from "../bus/replica-status";
import { BusNames, ensureEventsStream, ensureKv, manager } from "../bus/streams";
import type { ControllerConfig } from "../config/config";
import type { DistributedConfig } from "../config/distributed-config";
import { EventCopyStore } from "../database/repositories/event-copy-store";
import type { IngestWriter } from "../ingest/ingest-writer";
import { JetStreamSink } from "../ingest/jetstream-sink";
import { StorageConsumer } from "../ingest/storage-consumer";
import { DetectionConsumer, type DetectionFeedTarget } from "../detection/detection-consumer";
import type { ControllerMetrics } from "../metrics/metrics";

/** The distributed-mode parts of one replica (#12): its NATS link, the ingest sink, and (worker role) storage. */
export interface Distributed {
  config: DistributedConfig;
  nc: NatsConnection;
  names: BusNames;
  /** What agent sessions hand batches to (instead of the database writer). */
  sink: JetStreamSink;
  /**
   * Worker role: partition leases and what they drive: the storage consumer, and (from
   * startPartitions on) the detection consumer of the same partitions.
   */
  storage?: { leases: PartitionLeases; consumer: StorageConsumer; store: EventCopyStore; detection?: DetectionConsumer; close(): Promise<void> };
  /**
   * Worker role: detection (the pipeline) reads the owned partitions of the events stream through
   * a consumer of its own, then the leases start. Called once detection is ready, so no partition is
   * read before it can be detected.
   */
  startPartitions(detection: DetectionFeedTarget): void;
  status: ReplicaStatus;
  /** Another lease user of this replica (the correlation router): its counters shown on /healthz as `<name>Leases`. */
  showLeases(name: string, stats: () => PartitionLeaseStats | undefined): void;
  attachMetrics(metrics: ControllerMetrics): void;
  stop(): Promise<void>;
}

/**
 * Connects to NATS, makes sure the events stream exists, and wires this replica's role: ingest
 * publishes agent batches to JetStream; a worker holds a fair share of partitions (from
 * startPartitions on), writes them to PostgreSQL, handing what it stored to `writer`'s listeners
 * (the live stream, command results, metrics), and detects them through a consumer of its own.
 */
export async function startDistributed(config: ControllerConfig, ds: DataSource, writer: IngestWriter, logger: Logger): Promise<Distributed> {
  const d = config.distributed!;
  const log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => logger[level](fields ?? {}, msg);
  const nc = await connectBus({ url: d.natsUrl, name: `vigil-${config.role}-${d.replicaId}`, log });
  try {
    const names = new BusNames(d.prefix);
    const jsm = await manager(nc);
    const js = jetstream(nc);
    await ensureEventsStream(jsm, names, { maxAgeMs: d.eventsMaxAgeMs });
    const sink = new JetStreamSink({ js, jsm, names, partitions: d.partitions, maxPayload: nc.info?.max_payload ?? 1024 * 1024, onRefused: (r) => writer.refused(r), log });
    let storage: Distributed["storage"];
    // Detection's offsets on a connection of their own: a commit never queues behind storage's COPY transactions.
    let detectionOffsets: EventCopyStore | undefined;
    if (config.role === "worker" || config.role === "all") {
      const store = new EventCopyStore(ds, d.storageConnections);
      detectionOffsets = new EventCopyStore(ds, 1);
      const consumer = new StorageConsumer({ js, jsm, names, store, hub: writer, log });
      const kv = await ensureKv(nc, names.leaseBucket("storage"), d.leaseTtlMs);
      const leases = new PartitionLeases({
        kv,
        replicaId: d.replicaId,
        partitions: d.partitions,
        ttlMs: d.leaseTtlMs,
        log,
        onAcquired: async (p) => void (await Promise.all([consumer.start(p), storage?.detection?.start(p)])),
        onLost: async (p) => void (await Promise.all([consumer.stop(p), storage?.detection?.stop(p)])),
      });
      const stores = [store, detectionOffsets];
      storage = { leases, consumer, store, close: async () => void (await Promise.all(stores.map((x) => x.close()))) };
    }
    const otherLeases = new Map<string, () => PartitionLeaseStats | undefined>();
    const probe = async (): Promise<ReplicaProbe> => {
      const connected = !nc.isClosed() && nc.info !== undefined && !isReconnecting(nc);
      const others: Record<string, PartitionLeaseStats> = {};
      for (const [name, stats] of otherLeases) {
        const s = stats();
        if (s) others[`${name}Leases`] = s;
      }
      return {
        ok: connected,
        nats: connected ? "connected" : "disconnected",
        replicaId: d.replicaId,
        ...(storage
          ? {
              partitions: storage.consumer.owned(),
              liveReplicas: storage.leases.liveReplicas,
              // Lost leases (lostToOther + expiredLocally) are what the scale bench watches for churn.
              leases: storage.leases.stats,
              storage: storage.consumer.stats,
              storageTiming: storage.store.timing,
              detectionFeed: storage.detection?.stats,
              storagePhases: storage.consumer.phases(),
            }
          : {}),
        ...others,
        sink: sink.stats,
      };
    };
    return {
      config: d,
      nc,
      names,
      sink,
      storage,
      status: new ReplicaStatus(config.role, probe),
      showLeases: (name, stats) => void otherLeases.set(name, stats),
      startPartitions(target) {
        if (!storage || !detectionOffsets || storage.detection) return;
        storage.detection = new DetectionConsumer({ js, jsm, names, offsets: detectionOffsets, target, log });
        storage.leases.start();
      },
      attachMetrics(metrics) {
        metrics.addBusSource({
          consumerLag: async () => (storage ? storage.consumer.lag() : []),
          detectionLag: async () => (storage?.detection ? storage.detection.lag() : []),
          natsConnected: () => !nc.isClosed() && !isReconnecting(nc),
          counts: () => ({
            published: sink.stats.published,
            publish_duplicates: sink.stats.duplicates,
            publish_failures: sink.stats.failures,
            resumed_from_stream: sink.stats.resumedFromStream,
            stored_messages: storage?.consumer.stats.messages ?? 0,
            stored_events: storage?.consumer.stats.events ?? 0,
            stored_duplicates: storage?.consumer.stats.duplicates ?? 0,
            redelivered: storage?.consumer.stats.redelivered ?? 0,
            poison: storage?.consumer.stats.poison ?? 0,
            fenced: storage?.consumer.stats.fenced ?? 0,
            storage_failures: storage?.consumer.stats.failures ?? 0,
            storage_restarts: storage?.consumer.stats.restarts ?? 0,
            detection_messages: storage?.detection?.stats.messages ?? 0,
            detection_events: storage?.detection?.stats.events ?? 0,
            detection_replayed: storage?.detection?.stats.replayed ?? 0,
            detection_commits: storage?.detection?.stats.commits ?? 0,
            detection_fenced: storage?.detection?.stats.fenced ?? 0,
            detection_failures: storage?.detection?.stats.failures ?? 0,
            detection_restarts: storage?.detection?.stats.restarts ?? 0,
          }),
        });
      },
      async stop() {
        // Leases first: each partition's work stops before its lease is released to another replica.
        await storage?.leases.stop();
        await storage?.close().catch(() => undefined);
        await closeBus(nc);
      },
    };
  } catch (err) {
    await closeBus(nc);
    throw err;
  }
}

/** The client has no public "reconnecting" flag; the protocol handler knows. */
function isReconnecting(nc: NatsConnection): boolean {
  return (nc as unknown as { protocol?: { connected?: boolean } }).protocol?.connected === false;
}
