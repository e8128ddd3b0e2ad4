import type { Server } from "node:http";
import type { INestApplication, Provider } from "@nestjs/common";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { AgentRegistry } from "../agents/agent-registry";
import type { ApiKeys } from "../auth/api-keys";
import { RateLimiter } from "../auth/rate-limiter";
import type { AuditSink, CommandService } from "../commands/command-service";
import { CommandEntity } from "../database/entities";
import type { Detection } from "./detection";
import type { Triage } from "./triage";
import type { IngestWriter } from "../ingest/ingest-writer";
import { requestIdMiddleware } from "../logging/request-id";
import { ControllerMetrics } from "../metrics/metrics";
import type { PlaybookService } from "../playbooks/playbook-service";
import { StreamHub } from "../stream/stream-hub";
import { StreamServer } from "../stream/stream-server";
import { CONTROLLER_VERSION } from "../version";
import { DeliveryWorker } from "../webhooks/delivery-worker";
import { WebhookService } from "../webhooks/webhook-service";
import { WebhookRepository } from "../database/repositories/webhook-repository";
import type { IntegrationsConfig } from "../config/integrations-config";
import type { Notice } from "../integrations/notices";
import { listenForNotices } from "../integrations/sources";
import type { ClusterNotices } from "../integrations/cluster-notices";
import type { ChangeSync } from "../bus/change-sync";
import type { RetentionStats } from "../retention/retention";

export interface Integrations {
  hub: StreamHub;
  stream: StreamServer;
  webhooks: WebhookService;
  worker: DeliveryWorker;
  metrics: ControllerMetrics;
  providers: Provider[];
  /** Before listen: request ids and the request log line. */
  install(app: INestApplication): void;
  /** After listen: the WebSocket endpoint on Nest's HTTP server, and the delivery worker. */
  start(server: Server): void;
  stop(): Promise<void>;
}

export interface IntegrationDeps {
  config: IntegrationsConfig;
  ds: DataSource;
  writer: IngestWriter;
  registry: AgentRegistry;
  commands: CommandService;
  playbooks: PlaybookService;
  detection: Pick<Detection, "pipeline">;
  triage: Pick<Triage, "alerts" | "cases">;
  apiKeys: ApiKeys;
  audit?: AuditSink;
  logger: Logger;
  /** Distributed mode: the live stream shared with the other replicas, and their webhook destinations kept in step. */
  cluster?: { notices: ClusterNotices; destinations: ChangeSync; peers(): number; rejected(): Record<string, number> };
  /** The agent policy, for how many IOCs it carries and leaves out. */
  policy?: { lastIocDelivery(): { shipped: number; leftOut: number } | undefined };
  /** The detection write path's transactions (run again after a deadlock on PostgreSQL). */
  detectionWrites?: { stats: { retries: number } };
  /** Event retention: rows deleted, partitions dropped and created. */
  retention?: { stats: RetentionStats };
}

/**
 * The integrations layer (integrations/, webhooks/, stream/, metrics/), composed in one place so bootstrap only plugs them in: every committed
 * change becomes a Notice for the live stream and the webhooks; metrics observe the same sources.
 */
export async function createIntegrations(d: IntegrationDeps): Promise<Integrations> {
  const { config, ds, logger } = d;
  const hub = new StreamHub({
    alerts: config.stream.bufferPerTopic,
    cases: config.stream.bufferPerTopic,
    commands: config.stream.bufferPerTopic,
    agents: config.stream.bufferPerTopic,
    events: config.stream.eventsBuffer,
  });
  const webhookRepo = WebhookRepository.of(ds);
  const webhooks = new WebhookService(webhookRepo, d.audit);
  await webhooks.load();

  let stream: StreamServer | undefined;
  const metrics = new ControllerMetrics({
    ingestPendingEvents: () => d.writer.stats.pendingEvents,
    detectionQueuedEvents: () => d.detection.pipeline.stats.queuedEvents,
    detectionOverBudget: () => {
      const s = d.detection.pipeline.stats;
      return { overBudget: s.overBudget, skipped: s.skippedOverBudget };
    },
    detectionWrites: () => ({ retried: d.detectionWrites?.stats.retries ?? 0, failed: d.detection.pipeline.stats.failures }),
    agentsOnline: () => d.registry.onlineCount(),
    streamClients: () => stream?.clientCount ?? 0,
    commandsByState: () => countBy(ds, CommandEntity, "state"),
    agentDrops: () => agentDrops(d.registry),
    webhookDeliveriesByState: () => webhooks.countByState(),
    agentPolicyIocs: () => d.policy?.lastIocDelivery(),
    ...(d.cluster ? { cluster: () => ({ peers: d.cluster!.peers(), rejected: d.cluster!.rejected() }) } : {}),
    correlation: () => {
      const s = d.detection.pipeline.stats;
      return {
        routed: s.correlationRouted,
        received: s.correlationReceived,
        rejected: s.correlationRejected,
        routeFailed: s.correlationRouteFailures,
        partitions: s.correlationPartitions,
        groups: s.engines,
      };
    },
    ...(d.retention ? { retention: () => d.retention!.stats } : {}),
  });

  const worker = new DeliveryWorker(
    webhookRepo,
    (id) => webhooks.destination(id),
    config.webhooks,
    (outcome, row) => {
      metrics.observeDelivery(outcome);
      if (outcome === "dead") logger.warn({ deliveryId: row.id, destinationId: row.destinationId, attempts: row.attempts }, "webhook delivery dead-lettered");
    },
    (err) => logger.error({ err: String(err) }, "webhook delivery worker failed"),
    `Vigil-Webhooks/${CONTROLLER_VERSION}`,
  );
  webhooks.onEnqueued(() => worker.kick());

  // A notice is made once, where its change was committed: its webhook deliveries are queued here
  // (one worker in the cluster claims each) and the other replicas' hubs get it over NATS.
  const emit = (n: Notice) => {
    hub.publish(n);
    d.cluster?.notices.publish(n);
    if (n.topic !== "events") void webhooks.enqueue(n).catch((err: unknown) => logger.error({ err: String(err), type: n.type }, "queueing a webhook delivery failed"));
  };
  listenForNotices({ writer: d.writer, registry: d.registry, commands: d.commands, alerts: d.triage.alerts, cases: d.triage.cases, playbooks: d.playbooks }, emit);
  d.writer.onStored((batch) => metrics.observeStored(batch, Date.now()));
  d.writer.onRefused((r) => metrics.observeRefused(r));
  d.triage.alerts.onAlert((a) => metrics.observeAlert(a));

  return {
    hub,
    webhooks,
    worker,
    metrics,
    get stream() {
      if (!stream) throw new Error("integrations not started");
      return stream;
    },
    providers: [
      { provide: WebhookService, useValue: webhooks },
      { provide: ControllerMetrics, useValue: metrics },
    ],
    install(app) {
      app.use(requestIdMiddleware(logger));
    },
    start(server) {
      stream = new StreamServer(hub, d.apiKeys, new RateLimiter(5, 20), {
        ...config.stream,
        onDrop: (reason) => metrics.observeStreamDrop(reason),
        log: (level, msg, fields) => logger[level](fields, msg),
      });
      stream.attach(server);
      d.cluster?.notices.start(
        (n) => hub.publish(n),
        () => hub.subscriberCount("events"),
      );
      d.cluster?.destinations.start({ onLocalChange: (l) => webhooks.onDestinationsChanged(l), reload: () => webhooks.load() });
      worker.start();
    },
    async stop() {
      await stream?.close();
      await worker.stop();
    },
  };
}

async function countBy(ds: DataSource, entity: typeof CommandEntity, column: "state"): Promise<Record<string, number>> {
  const rows = await ds.getRepository(entity).createQueryBuilder("c").select(`c.${column}`, "k").addSelect("COUNT(*)", "n").groupBy(`c.${column}`).getRawMany<{ k: string; n: string | number }>();
  return Object.fromEntries(rows.map((r) => [r.k, Number(r.n)]));
}

async function agentDrops(registry: AgentRegistry): Promise<{ droppedByType: Record<string, number>; spoolDiscardedBytes: number; spoolRecords: number }> {
  const out = { droppedByType: {} as Record<string, number>, spoolDiscardedBytes: 0, spoolRecords: 0 };
  for (const a of await registry.list()) {
    const s = a.status as { dropped?: Record<string, unknown>; spoolDiscardedBytes?: unknown; spoolRecords?: unknown };
    for (const [type, n] of Object.entries(s.dropped ?? {})) if (typeof n === "number") out.droppedByType[type] = (out.droppedByType[type] ?? 0) + n;
    if (typeof s.spoolDiscardedBytes === "number") out.spoolDiscardedBytes += s.spoolDiscardedBytes;
    if (typeof s.spoolRecords === "number") out.spoolRecords += s.spoolRecords;
  }
  return out;
}
