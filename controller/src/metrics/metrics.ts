import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { processFaultCounts } from "../logging/process-faults";
import type { AlertNotice } from "../alerts/alert-service";
import type { RefusedBatch, StoredBatch } from "../ingest/ingest-writer";
import type { SanitizeReport } from "../ingest/sanitize";
import type { DropReason } from "../stream/stream-server";
import type { DeliveryOutcome } from "../webhooks/delivery-worker";

/** Read at scrape time: depths and counts that live elsewhere (queues, the database, agents' reports). */
export interface MetricSources {
  ingestPendingEvents: () => number;
  detectionQueuedEvents: () => number;
  /** Events over the per-event detection budget since start, and those of them abandoned. */
  detectionOverBudget?: () => { overBudget: number; skipped: number };
  /** Detection transactions run again after a deadlock (PostgreSQL), and chunks whose processing or write failed. */
  detectionWrites?: () => { retried: number; failed: number };
  agentsOnline: () => number;
  streamClients: () => number;
  commandsByState: () => Promise<Record<string, number>>;
  /** Summed over agents, from their last status report. */
  agentDrops: () => Promise<{ droppedByType: Record<string, number>; spoolDiscardedBytes: number; spoolRecords: number }>;
  webhookDeliveriesByState: () => Promise<Record<string, number>>;
  /** IOCs the last built agent policy carries and leaves out (the catalog outgrew it); undefined before one is built. */
  agentPolicyIocs?: () => { shipped: number; leftOut: number } | undefined;
  /** Distributed mode: the other replicas this one hears, and messages read back from NATS that were refused (by kind). */
  cluster?: () => { peers: number; rejected: Record<string, number> };
  /** Cross-host correlation (#12): inputs by outcome since start, partitions owned, groups held. */
  correlation?: () => { routed: number; received: number; rejected: number; routeFailed: number; partitions: number; groups: number };
  /** Event retention since start (RetentionStats). */
  retention?: () => { rowsDeleted: number; partitionsDropped: number; partitionRowsDropped: number; partitionsCreated: number; failures: number };
}

/** Distributed mode (#12), read at scrape time. */
export interface BusMetricSource {
  /** Per owned partition: messages not yet delivered to its storage consumer, and delivered but not acked. */
  consumerLag: () => Promise<Array<{ partition: number; pending: number; ackPending: number }>>;
  /** Per owned partition: messages not yet read by its detection consumer (which reads apart from storage). */
  detectionLag: () => Promise<Array<{ partition: number; pending: number }>>;
  natsConnected: () => boolean;
  /** Counters kept by the sink and the storage consumer (monotonic since start). */
  counts: () => Record<string, number>;
}

/** Lag buckets (seconds): live agents land in the first few; spool replays after an outage in the last. */
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600];

/**
 * The controller's Prometheus metrics, on a registry of its own (not prom-client's global one),
 * so two controllers in one process (tests) do not share counters. Event-driven counters are
 * incremented by the observe* methods; everything else is read when scraped.
 */
export class ControllerMetrics {
  readonly registry = new Registry();
  private readonly eventsIngested: Counter<"type">;
  private readonly ingestLag: Histogram;
  private readonly alerts: Counter<"level">;
  private readonly streamDrops: Counter<"reason">;
  private readonly webhookOutcomes: Counter<"outcome">;
  private readonly batchesRefused: Counter<"reason">;
  private readonly eventsClockSkewed: Counter;
  private readonly fieldsSanitized: Counter<"outcome">;

  constructor(src: MetricSources, now: () => number = Date.now) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.eventsIngested = new Counter({
      name: "vigil_events_ingested_total",
      help: "Events stored (replays of stored events not counted), by type; rate() gives events/s",
      labelNames: ["type"],
      registers,
    });
    this.ingestLag = new Histogram({ name: "vigil_ingest_lag_seconds", help: "Event time to stored time (includes agent clock skew and spool backlog)", buckets: LAG_BUCKETS, registers });
    this.alerts = new Counter({ name: "vigil_alerts_total", help: "Alerts created, by rule level", labelNames: ["level"], registers });
    this.streamDrops = new Counter({ name: "vigil_stream_drops_total", help: "Live stream clients dropped, by reason (slow_consumer, heartbeat, key_revoked)", labelNames: ["reason"], registers });
    this.batchesRefused = new Counter({
      name: "vigil_ingest_batches_refused_total",
      help: "Agent batches refused before storage, nothing stored or acked: seq_window (a seq beyond what the agent can have produced), contract (malformed)",
      labelNames: ["reason"],
      registers,
    });
    new Counter({
      name: "vigil_process_faults_total",
      help: "Faults in the controller process, by kind: unhandled_rejection, uncaught_exception, background_failure (each logged, redacted)",
      labelNames: ["kind"],
      registers,
      collect() {
        this.reset();
        for (const [kind, n] of Object.entries(processFaultCounts())) this.inc({ kind }, n);
      },
    });
    this.eventsClockSkewed = new Counter({
      name: "vigil_events_clock_skewed_total",
      help: "Events stored at their receive time because the time the host reported was too far off (kept as reportedTime)",
      registers,
    });
    this.fieldsSanitized = new Counter({
      name: "vigil_ingest_fields_sanitized_total",
      help: "Fields of agents' events changed before storage, by outcome: clipped (over its bound: strings, lists, negative numbers; NULs cut from paths), redacted (a Vigil token or API key replaced)",
      labelNames: ["outcome"],
      registers,
    });
    this.webhookOutcomes = new Counter({
      name: "vigil_webhook_deliveries_total",
      help: "Webhook delivery attempts by outcome: delivered, retry (scheduled again), dead (dead-lettered)",
      labelNames: ["outcome"],
      registers,
    });

    new Gauge({
      name: "vigil_retention_total",
      help: "Event retention since start, by name: rows_deleted (one by one: SQLite, PostgreSQL's DEFAULT partition), partitions_dropped and partition_rows_dropped (PostgreSQL's estimate), partitions_created (days ahead), failures",
      labelNames: ["name"],
      registers,
      collect() {
        this.reset();
        const r = src.retention?.();
        if (!r) return;
        this.set({ name: "rows_deleted" }, r.rowsDeleted);
        this.set({ name: "partitions_dropped" }, r.partitionsDropped);
        this.set({ name: "partition_rows_dropped" }, r.partitionRowsDropped);
        this.set({ name: "partitions_created" }, r.partitionsCreated);
        this.set({ name: "failures" }, r.failures);
      },
    });
    new Gauge({
      name: "vigil_ingest_pending_events",
      help: "Events queued in the ingest writer, not yet committed",
      registers,
      collect() {
        this.set(src.ingestPendingEvents());
      },
    });
    new Gauge({
      name: "vigil_detection_queued_events",
      help: "Stored events waiting for detection",
      registers,
      collect() {
        this.set(src.detectionQueuedEvents());
      },
    });
    new Gauge({
      name: "vigil_detection_over_budget_events",
      help: "Events over the per-event detection time budget since start (outcome: finished_late or skipped)",
      labelNames: ["outcome"],
      registers,
      collect() {
        const b = src.detectionOverBudget?.() ?? { overBudget: 0, skipped: 0 };
        this.set({ outcome: "finished_late" }, b.overBudget - b.skipped);
        this.set({ outcome: "skipped" }, b.skipped);
      },
    });
    new Gauge({
      name: "vigil_detection_writes",
      help: "Detection chunks since start: retried when PostgreSQL chose their transaction as a deadlock victim (run again, nothing lost), failed when a chunk could not be processed or written",
      labelNames: ["outcome"],
      registers,
      collect() {
        const w = src.detectionWrites?.() ?? { retried: 0, failed: 0 };
        this.set({ outcome: "retried" }, w.retried);
        this.set({ outcome: "failed" }, w.failed);
      },
    });
    new Gauge({
      name: "vigil_correlation_inputs",
      help: "Correlation inputs since start: routed to the owners of their groups, received as an owner (replays included), rejected when read back, route_failed when the bus refused them",
      labelNames: ["outcome"],
      registers,
      collect() {
        const c = src.correlation?.();
        if (!c) return;
        this.set({ outcome: "routed" }, c.routed);
        this.set({ outcome: "received" }, c.received);
        this.set({ outcome: "rejected" }, c.rejected);
        this.set({ outcome: "route_failed" }, c.routeFailed);
      },
    });
    new Gauge({
      name: "vigil_correlation_partitions_owned",
      help: "Correlation partitions this replica owns (all of them in single-process mode)",
      registers,
      collect() {
        this.set(src.correlation?.().partitions ?? 0);
      },
    });
    new Gauge({
      name: "vigil_correlation_groups",
      help: "Correlation groups (a correlation's chain and group-by values) whose windows this process holds",
      registers,
      collect() {
        this.set(src.correlation?.().groups ?? 0);
      },
    });
    new Gauge({
      name: "vigil_agents_online",
      help: "Agents with a live stream",
      registers,
      collect() {
        this.set(src.agentsOnline());
      },
    });
    new Gauge({
      name: "vigil_agent_policy_iocs",
      help: "IOCs in the agent policy as last built: shipped, or left_out because the catalog exceeds what a policy carries (best first)",
      labelNames: ["state"],
      registers,
      collect() {
        const d = src.agentPolicyIocs?.();
        this.reset();
        if (!d) return;
        this.set({ state: "shipped" }, d.shipped);
        this.set({ state: "left_out" }, d.leftOut);
      },
    });
    if (src.cluster) {
      const cluster = src.cluster;
      new Gauge({
        name: "vigil_cluster_peers",
        help: "Other controller replicas this one hears from (presence over NATS)",
        registers,
        collect() {
          this.set(cluster().peers);
        },
      });
      new Counter({
        name: "vigil_cluster_messages_refused_total",
        help: "Messages read back from NATS that failed their checks and were dropped, by kind (presence, agent_relay, notice, webhook_sync, policy_sync, playbook_sync, rule_sync, ioc_sync)",
        labelNames: ["kind"],
        registers,
        collect() {
          this.reset();
          for (const [kind, n] of Object.entries(cluster().rejected)) this.inc({ kind }, n);
        },
      });
    }
    new Gauge({
      name: "vigil_stream_clients",
      help: "Connected live stream (WebSocket) clients",
      registers,
      collect() {
        this.set(src.streamClients());
      },
    });
    new Gauge({
      name: "vigil_commands",
      help: "Response commands by state",
      labelNames: ["state"],
      registers,
      async collect() {
        this.reset();
        for (const [state, n] of Object.entries(await src.commandsByState())) this.set({ state }, n);
      },
    });
    new Gauge({
      name: "vigil_webhook_deliveries",
      help: "Webhook deliveries in the table by state (pending, delivered, dead)",
      labelNames: ["state"],
      registers,
      async collect() {
        this.reset();
        for (const [state, n] of Object.entries(await src.webhookDeliveriesByState())) this.set({ state }, n);
      },
    });
    // One database read per scrape feeds the three agent-report gauges.
    let report: ReturnType<MetricSources["agentDrops"]> | undefined;
    let reportAt = 0;
    const agentReport = () => {
      if (!report || now() - reportAt > 1_000) {
        report = src.agentDrops();
        reportAt = now();
      }
      return report;
    };
    new Gauge({
      name: "vigil_agent_dropped_events",
      help: "Events agents report they dropped (sum of their last reports), by event type",
      labelNames: ["type"],
      registers,
      async collect() {
        this.reset();
        for (const [type, n] of Object.entries((await agentReport()).droppedByType)) this.set({ type }, n);
      },
    });
    new Gauge({
      name: "vigil_agent_spool_discarded_bytes",
      help: "Spool bytes agents report they discarded when full (sum of their last reports)",
      registers,
      async collect() {
        this.set((await agentReport()).spoolDiscardedBytes);
      },
    });
    new Gauge({
      name: "vigil_agent_spool_records",
      help: "Records waiting in agents' spools (sum of their last reports)",
      registers,
      async collect() {
        this.set((await agentReport()).spoolRecords);
      },
    });
  }

  /** Distributed mode: JetStream consumer lag per partition, the NATS link, and the bus counters. */
  addBusSource(src: BusMetricSource): void {
    const registers = [this.registry];
    let lag: ReturnType<BusMetricSource["consumerLag"]> | undefined;
    let lagAt = 0;
    const lagOnce = () => {
      if (!lag || Date.now() - lagAt > 1_000) {
        lag = src.consumerLag();
        lagAt = Date.now();
      }
      return lag;
    };
    new Gauge({
      name: "vigil_jetstream_consumer_lag_messages",
      help: "Event batches in JetStream not yet delivered to this replica's storage consumer, per owned partition",
      labelNames: ["partition"],
      registers,
      async collect() {
        this.reset();
        for (const l of await lagOnce()) this.set({ partition: String(l.partition) }, l.pending);
      },
    });
    new Gauge({
      name: "vigil_jetstream_consumer_ack_pending",
      help: "Event batches delivered to this replica's storage consumer and not yet stored (acked), per owned partition",
      labelNames: ["partition"],
      registers,
      async collect() {
        this.reset();
        for (const l of await lagOnce()) this.set({ partition: String(l.partition) }, l.ackPending);
      },
    });
    let detectionLag: ReturnType<BusMetricSource["detectionLag"]> | undefined;
    let detectionLagAt = 0;
    new Gauge({
      name: "vigil_detection_consumer_lag_messages",
      help: "Event batches in JetStream not yet read by this replica's detection consumer, per owned partition (detection's backlog waits there)",
      labelNames: ["partition"],
      registers,
      async collect() {
        if (!detectionLag || Date.now() - detectionLagAt > 1_000) {
          detectionLag = src.detectionLag();
          detectionLagAt = Date.now();
        }
        this.reset();
        for (const l of await detectionLag) this.set({ partition: String(l.partition) }, l.pending);
      },
    });
    new Gauge({
      name: "vigil_nats_connected",
      help: "1 while this replica is connected to NATS",
      registers,
      collect() {
        this.set(src.natsConnected() ? 1 : 0);
      },
    });
    new Gauge({
      name: "vigil_bus_total",
      help: "Distributed-mode counters since start, by name: published/duplicate batches, stored/redelivered/poison messages, fenced commits, failures",
      labelNames: ["name"],
      registers,
      collect() {
        this.reset();
        for (const [name, n] of Object.entries(src.counts())) this.set({ name }, n);
      },
    });
  }

  observeStored(batch: StoredBatch, storedAt: number): void {
    batch.rows.forEach((row, i) => {
      if (!batch.fresh[i]) return;
      this.eventsIngested.inc({ type: row.type });
      if (row.reportedTime !== undefined) this.eventsClockSkewed.inc();
      this.ingestLag.observe(Math.max(0, storedAt - row.eventTime) / 1000);
    });
  }

  observeSanitized(r: SanitizeReport): void {
    if (r.clipped > 0) this.fieldsSanitized.inc({ outcome: "clipped" }, r.clipped);
    if (r.redacted > 0) this.fieldsSanitized.inc({ outcome: "redacted" }, r.redacted);
  }

  observeRefused(r: RefusedBatch): void {
    this.batchesRefused.inc({ reason: r.reason });
  }

  observeAlert(a: AlertNotice): void {
    if (a.change === "created") this.alerts.inc({ level: a.level || "unknown" });
  }

  observeStreamDrop(reason: DropReason): void {
    this.streamDrops.inc({ reason });
  }

  observeDelivery(outcome: DeliveryOutcome): void {
    this.webhookOutcomes.inc({ outcome });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
