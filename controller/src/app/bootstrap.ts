import type { CorrelationRouter } from "../detection/correlation-router";
import { RegistrationGate } from "../transport/registration-gate";
import "reflect-metadata";
import { join } from "node:path";
import type { Server } from "node:http";
import { NestFactory } from "@nestjs/core";
import { DocumentBuilder, SwaggerModule } from "@nestjs/swagger";
import type { INestApplication } from "@nestjs/common";
import type { Logger } from "pino";
import { DataSource } from "typeorm";
import { AgentRegistry } from "../agents/agent-registry";
import { formatAddr, redactUrl, type ControllerConfig } from "../config/config";
import { CommandSigner } from "../crypto/signing-key";
import { createDataSource } from "../database/data-source";
import { SqlBatch } from "../database/sql-batch";
import { DatabaseHealth } from "../database/database-health";
import { ownerOnlyDir } from "../crypto/owner-only";
import { guardPostgresPool } from "../database/pg-guard";
import { AuditInterceptor } from "../audit/audit-interceptor";
import { CommandService, type AuditSink } from "../commands/command-service";
import { commandResultFromEvent } from "../commands/result-events";
import { PlaybookService } from "../playbooks/playbook-service";
import { PolicyService } from "../policy/policy-service";
import { IngestWriter } from "../ingest/ingest-writer";
import { createLogger, NestPinoLogger } from "../logging/logger";
import { installProcessFaultHandlers } from "../logging/process-faults";
import { type EventStore } from "../database/repositories/event-store";
import { EventQueryService } from "../ingest/event-query";
import { InventoryService } from "../agents/inventory-service";
import type { AgentAuthenticator } from "../trust/authenticator";
import { AgentGrpcServer } from "../transport/grpc-server";
import { createTrustLayer, type Security } from "./security";
import type { AuditLog } from "../audit/audit-log";
import { CONTROLLER_VERSION } from "../version";
import { AppModule, CONTROLLERS } from "./app.module";
import { pathNormaliser } from "./normalise-path";
import { routeTable } from "../http/route-table";
import { jsonBodyParser } from "../api/json-body";
import { deferContinue } from "../auth/api-key.middleware";
import { requestAudit } from "../audit/request-audit";
import { createTriage, type Triage } from "./triage";
import { createIngest } from "./ingest";
import { createAgentPolicy, createResponse } from "./response";
import { correlationRouterFor } from "./correlation-router";
import { createDetection, type Detection } from "./detection";
import type { DetectionOptions } from "../detection/options";
import { createIntegrations, type Integrations } from "./integrations";
import { completeDocument } from "../api/openapi";
import { createInstall } from "../install/install";
import { createHttpTls, type HttpTls } from "../trust/http-tls";
import { silentAgentAlerts } from "../detection/silent-agent-watcher";
import { agentHealthAlerts } from "../detection/agent-health-watcher";
import { agentAnomalies } from "../agents/agent-anomalies";
import { ReplicaStatus } from "../bus/replica-status";
import { startDistributed, type Distributed } from "./distributed";
import { connectCluster, type ClusterLink } from "./cluster";
import { eventLoopDelay } from "../metrics/event-loop-delay";

/**
 * Registrations running at once per replica; the rest wait in the gate. Large enough that a
 * batch of look-ups carries hundreds of agents (bench:scale: 6 at once, each waiting out its own
 * round trips, connected about 10 agents a second on this machine).
 */
const REGISTRATIONS_AT_ONCE = 256;

export interface RunningController {
  config: ControllerConfig;
  app: INestApplication;
  dataSource: DataSource;
  store: EventStore;
  writer: IngestWriter;
  registry: AgentRegistry;
  grpc: AgentGrpcServer;
  signer: CommandSigner;
  commands: CommandService;
  playbooks: PlaybookService;
  policy: PolicyService;
  logger: Logger;
  /** https://… by default; http://… only with --insecure-http. */
  httpUrl: string;
  grpcPort: number;
  /** The HTTPS listener's certificate and key pin; undefined for a plaintext API. */
  httpTls?: HttpTls;
  /** The hash-chained audit trail; every security-relevant act goes through `audit.append`. */
  audit: AuditLog;
  /** The trust layer: audit trail, CA, enrollment, API keys. */
  security: Security;
  /** Stored events → rule matches. */
  detection: Detection;
  /** Matches → alerts → cases. */
  triage: Triage;
  /** The integrations layer: live stream, webhooks, metrics. */
  integrations: Integrations;
  /** Distributed mode (VIGIL_NATS_URL): the NATS link, JetStream sink and (worker role) storage consumer. */
  distributed?: Distributed;
  /** Distributed mode: presence, the agent relay, the shared live stream and in-memory state kept in step with the other replicas. */
  cluster?: ClusterLink;
  stop(): Promise<void>;
}

export interface StartOptions {
  authenticator?: AgentAuthenticator;
  logger?: Logger;
  /** Run pending migrations before serving (the default; `serve --no-migrate` turns it off). */
  migrate?: boolean;
  /** Where security-relevant acts are recorded (the audit trail). */
  audit?: AuditSink;
  /** Detection pipeline tuning (tests shorten the reorder tolerance and idle tick). */
  detection?: Partial<DetectionOptions>;
  /**
   * Where correlation inputs go: in distributed mode the JetStream router (createCorrelationRouter
   * in app/correlation-router.ts); default in-process, this controller owning every correlation group.
   */
  correlationRouter?: CorrelationRouter;
}

export async function startController(config: ControllerConfig, opts: StartOptions = {}): Promise<RunningController> {
  // Measured from the start, so health's first reading covers a whole window.
  eventLoopDelay();
  const logger = opts.logger ?? createLogger(config.logLevel);
  installProcessFaultHandlers(logger);
  ownerOnlyDir(config.dataDir, true);
  const dataSource = createDataSource({ url: config.databaseUrl, sqliteSynchronous: config.sqliteSynchronous });
  await dataSource.initialize();
  guardPostgresPool(dataSource);
  if (opts.migrate !== false) {
    const ran = await dataSource.runMigrations({ transaction: "each" });
    if (ran.length) logger.info({ migrations: ran.map((m) => m.name) }, "database migrated");
  }
  // Distributed mode: connected before ingest, whose registry shows the agents other replicas hold.
  const cluster = config.distributed ? await connectCluster(config.distributed, logger) : undefined;
  const ingest = createIngest(config, dataSource, cluster && { agents: cluster.presence, relay: cluster.relay }, (msg, fields) => logger.warn(fields, msg));
  const { store, writer, registry, inventory, retention } = ingest;
  // PostgreSQL: today's and the coming days' event partitions exist before the first event arrives.
  await retention.prepare();
  // Distributed mode: agents' batches go to JetStream; workers write them to PostgreSQL (handing them to `writer`'s listeners) and detect them.
  const distributed = config.distributed ? await startDistributed(config, dataSource, writer, logger) : undefined;
  const servesAgents = config.role === "all" || config.role === "ingest";
  // The command key exists before anything that announces it (the trust layer's Welcome, install).
  const signer = CommandSigner.loadOrCreate(join(config.dataDir, "keys", "command-signing.pem"));
  const security = await createTrustLayer(config, dataSource, registry, () => signer.publicKeyRaw, logger, opts.authenticator);
  opts = { ...opts, audit: opts.audit ?? security.audit };
  const response = await createResponse(config, dataSource, registry, signer, opts.audit, cluster?.relay);
  const { commands, playbooks } = response;
  const batch = new SqlBatch(dataSource);
  const triage = await createTriage({ ds: dataSource, batch, events: store, caseActions: response.caseActions });
  const router = opts.correlationRouter ?? correlationRouterFor(config, distributed, logger);
  if (router) distributed?.showLeases("correlation", () => router.stats.leases);
  const detection = await createDetection({
    ds: dataSource,
    writer,
    registry,
    sink: triage.alerts,
    batch,
    options: opts.detection,
    dataDir: config.dataDir,
    pack: config.sigmahqPack ? undefined : null,
    router,
    feed: distributed ? "stream" : "writer",
    onError: (err) => logger.error({ err: String(err) }, "detection failed on a chunk"),
  });
  // A worker reads its partitions from here on: storage and, through a consumer of its own, detection.
  distributed?.startPartitions(detection.pipeline);
  const pack = detection.rules.pack;
  if (pack) {
    const m = pack.manifest;
    logger.info({ origin: pack.origin, version: m.version, rules: pack.rules.length, refused: detection.rules.packErrors.length }, "SigmaHQ rule pack loaded");
    for (const e of detection.rules.packErrors.slice(0, 20)) logger.warn({ rule: e.source, error: e.message }, "SigmaHQ pack rule refused");
  }
  // IOC lists ship inside the agent policy.
  const policy = createAgentPolicy(dataSource, registry, signer, detection.iocs, opts.audit, (msg, fields) => logger.warn(fields, msg));
  // Playbooks decide once per new alert, with its evidence (event fields) loaded from the committed row.
  triage.alerts.onAlert((notice) => {
    if (notice.change !== "created") return;
    void triage.alertQuery
      .get(notice.id)
      .then((a) => (a ? playbooks.onAlert(a) : undefined))
      .catch((err) => logger.error({ err: String(err), alertId: notice.id }, "playbook evaluation failed"));
  });
  const integrations = await createIntegrations({
    config: config.integrations,
    ds: dataSource,
    writer,
    registry,
    commands,
    playbooks,
    detection,
    triage,
    apiKeys: security.apiKeys,
    audit: opts.audit,
    logger,
    retention,
    detectionWrites: batch,
    policy,
    cluster,
  });
  // Results the agent made durable in its spool (local actions taken offline, or results whose stream broke).
  writer.onStored((batch) => {
    batch.events.forEach((ev, i) => {
      if (!batch.fresh[i]) return;
      const r = commandResultFromEvent(ev);
      if (r) void commands.onResult(batch.agentId, r).catch((err) => logger.error({ err: String(err) }, "recording a command result failed"));
    });
  });

  const grpc = new AgentGrpcServer(
    {
      registry,
      writer: distributed?.sink ?? writer,
      authenticator: security.grpc.authenticator,
      commandPublicKey: () => signer.publicKeyRaw,
      controllerVersion: CONTROLLER_VERSION,
      // Registrations' reads and writes go a batch per statement (Coalescer), one connection per step
      // whatever the number running: the bound is on memory and NATS look-ups, not on the pool.
      registrations: new RegistrationGate(REGISTRATIONS_AT_ONCE, 20_000),
      onConnected: (session) => {
        void policy.pushTo(session.agentId).catch((err) => logger.error({ err: String(err) }, "pushing the agent policy failed"));
        // Distributed mode: the server knows this replica serves the agent's nudges before the pending read,
        // so a command stored on another replica meanwhile is either read here or nudged here.
        void (cluster?.relay.ready() ?? Promise.resolve()).then(() => commands.deliverPending(session.agentId)).catch((err) => logger.error({ err: String(err) }, "delivering queued commands failed"));
      },
      onCommandResult: (agentId, result) => void commands.onResult(agentId, result).catch((err) => logger.error({ err: String(err) }, "recording a command result failed")),
      onInventory: (agentId, inv) => void inventory.receive(agentId, inv).catch((err) => logger.error({ err: String(err), agentId }, "storing an inventory failed")),
      log: (level, msg, fields) => logger[level](fields ?? {}, msg),
      onAnomaly: agentAnomalies(security.audit),
      onSanitized: (report) => integrations.metrics.observeSanitized(report),
      eventTimeToleranceMs: config.eventTimeToleranceMs,
    },
    security.grpc.credentials,
    security.grpc.extraServices,
  );
  const httpTls = await createHttpTls(config, security.trust.ca, (level, msg, fields) => logger[level](fields ?? {}, msg));
  let httpPort = 0;
  const install = createInstall(config, { http: () => httpPort, grpc: () => grpc.boundPort || config.grpcAddr.port }, security.trust.ca, () => httpTls?.pin());
  // An agent that goes silent may have been killed: one alert per silence (VIGIL_AGENT_SILENT_ALERT_AFTER).
  const silentAgents =
    config.agentSilentAlertAfterMs > 0
      ? silentAgentAlerts({
          registry,
          alerts: triage.alerts,
          alertQuery: triage.alertQuery,
          thresholdMs: config.agentSilentAlertAfterMs,
          onError: (err) => logger.error({ err: String(err) }, "silent-agent check failed"),
        })
      : undefined;

  // Connected but blind (refused, stalled) or a clock far off: one alert per episode.
  const agentHealth = agentHealthAlerts({
    registry,
    alerts: triage.alerts,
    clockSkewThresholdMs: config.agentClockSkewAlertMs,
    stalledAfterMs: config.agentStalledAfterMs,
    onError: (err) => logger.error({ err: String(err) }, "agent health check failed"),
  });

  const app = await NestFactory.create(
    AppModule.with([
      { provide: DataSource, useValue: dataSource },
      { provide: DatabaseHealth, useValue: new DatabaseHealth(dataSource) },
      { provide: EventQueryService, useValue: ingest.events },
      { provide: IngestWriter, useValue: writer },
      { provide: ReplicaStatus, useValue: distributed?.status ?? new ReplicaStatus(config.role) },
      { provide: AgentRegistry, useValue: registry },
      { provide: InventoryService, useValue: inventory },
      { provide: CommandSigner, useValue: signer },
      ...security.providers,
      { provide: CommandService, useValue: commands },
      { provide: PlaybookService, useValue: playbooks },
      { provide: PolicyService, useValue: policy },
      ...detection.providers,
      ...triage.providers,
      ...integrations.providers,
      ...install.providers,
    ]),
    // Bodies are parsed by jsonBodyParser below, after the API key check, with per-route limits.
    { logger: new NestPinoLogger(logger), abortOnError: false, bodyParser: false, httpsOptions: httpTls?.httpsOptions },
  );
  app.enableShutdownHooks();
  integrations.install(app);
  // In this order, before any route: one spelling of the path; the audit context; the key; then the body.
  const routes = routeTable(CONTROLLERS);
  deferContinue(app.getHttpServer() as Server);
  app.use(pathNormaliser(() => routes));
  app.use((_req: unknown, _res: unknown, next: () => void) => requestAudit.run({ appended: 0, notes: {} }, next));
  app.use(security.authenticate(() => routes));
  app.use(jsonBodyParser(() => routes));
  app.useGlobalInterceptors(new AuditInterceptor(security.audit));
  security.guard(app);
  const doc = completeDocument(
    SwaggerModule.createDocument(
      app,
      security
        .document(
          new DocumentBuilder().setTitle("Vigil controller API").setVersion(CONTROLLER_VERSION).setDescription("Endpoint detection and response: agents, telemetry, detections, cases, response."),
        )
        .build(),
    ),
  );
  SwaggerModule.setup("api/docs", app, doc, { jsonDocumentUrl: "api/docs/openapi.json" });

  distributed?.attachMetrics(integrations.metrics);
  // Before the first agent connects: this replica announces who it holds and serves their nudges.
  cluster?.presence.start(registry);
  cluster?.relay.start(registry, { deliver: (agentId, commandId) => commands.deliverQueued(agentId, commandId), inventory: (agentId) => void inventory.requestHere(agentId) });
  cluster?.policy.start({ onLocalChange: (l) => policy.onChanged(l), reload: () => policy.catchUp().then(() => undefined) });
  cluster?.playbooks.start({ onLocalChange: (l) => playbooks.onChanged(l), reload: () => playbooks.load() });
  cluster?.rules.start({
    onLocalChange: (l) => {
      detection.rules.onRuleset(l);
      detection.rules.onEnabled(() => l());
    },
    reload: () => detection.rules.reloadFromDatabase(),
  });
  cluster?.iocs.start({ onLocalChange: (l) => detection.iocs.onChange(l), reload: () => detection.iocs.load() });
  // Roles without agent streams (api, worker) open no gRPC port: 0 in the ready line.
  const grpcPort = servesAgents ? await grpc.start(config.grpcAddr.host, config.grpcAddr.port) : 0;
  await app.listen(config.httpAddr.port, config.httpAddr.host);
  const httpServer = app.getHttpServer() as { address(): { port: number }; setSecureContext(o: { cert: string; key: string }): void };
  httpPort = httpServer.address().port;
  httpTls?.attach(httpServer);
  integrations.start(app.getHttpServer() as Server);
  const httpUrl = `${httpTls ? "https" : "http"}://${formatAddr({ host: config.httpAddr.host === "0.0.0.0" ? "127.0.0.1" : config.httpAddr.host, port: httpPort })}`;
  retention.start();
  commands.start();
  silentAgents?.start();
  agentHealth.start();
  logger.info(
    { http: httpUrl, grpc: formatAddr({ host: config.grpcAddr.host, port: grpcPort }), database: redactUrl(config.databaseUrl), role: config.role, distributed: distributed !== undefined },
    "controller started",
  );

  let stopped = false;
  return {
    config,
    app,
    dataSource,
    store,
    writer,
    registry,
    grpc,
    signer,
    commands,
    playbooks,
    policy,
    logger,
    httpUrl,
    grpcPort,
    httpTls,
    audit: security.audit,
    security,
    detection,
    triage,
    integrations,
    distributed,
    cluster,
    async stop() {
      if (stopped) return;
      stopped = true;
      security.stop();
      httpTls?.stop();
      retention.stop();
      commands.stop();
      await silentAgents?.stop();
      await agentHealth.stop();
      await grpc.stop();
      // Storage and detection's reading stop partition by partition (releasing each lease; what
      // detection has not finished of a partition is left above its offset for the next owner);
      // detection then finishes its chunk in hand, routing its correlation inputs and releasing its
      // correlation partitions; the NATS link closes last.
      await distributed?.storage?.leases.stop().catch((err: unknown) => logger.error({ err: String(err) }, "stopping storage failed"));
      await integrations.stop();
      await cluster?.stop();
      // After ingest stops: process what is queued and flush held correlations into alerts.
      await detection.stop().catch((err: unknown) => logger.error({ err: String(err) }, "detection flush at shutdown failed"));
      await distributed?.stop().catch((err: unknown) => logger.error({ err: String(err) }, "stopping distributed mode failed"));
      await registry.close().catch((err: unknown) => logger.error({ err: String(err) }, "writing agents' last-seen times failed"));
      await app.close();
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}
