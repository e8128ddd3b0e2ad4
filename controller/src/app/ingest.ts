import type { DataSource } from "typeorm";
import { AgentRegistry } from "../agents/agent-registry";
import { InventoryService } from "../agents/inventory-service";
import type { ControllerConfig } from "../config/config";
import type { RemoteAgents } from "../agents/cluster-presence";
import type { RemoteInventory } from "../agents/agent-relay";
import { EventStore } from "../database/repositories/event-store";
import { DAY_MS, EventPartitions } from "../database/repositories/event-partitions";
import { InventoryRepository } from "../database/repositories/inventory-repository";
import { SqlAgentRepository } from "../database/repositories/agent-repository";
import { EventQueryService } from "../ingest/event-query";
import { IngestWriter } from "../ingest/ingest-writer";
import { RetentionJob } from "../retention/retention";

/** Agent frames → stored events: the store, its writer, the agents it knows, retention and inventory. */
export interface Ingest {
  store: EventStore;
  writer: IngestWriter;
  registry: AgentRegistry;
  inventory: InventoryService;
  retention: RetentionJob;
  events: EventQueryService;
}

/**
 * Builds ingest, the lowest capability: every other one reads what it stores. `remote`: in
 * distributed mode, the agents other replicas hold (the registry shows them online too) and the
 * relay that reaches them.
 */
export function createIngest(
  config: ControllerConfig,
  ds: DataSource,
  remote?: { agents: RemoteAgents; relay: RemoteInventory },
  warn: (msg: string, fields: Record<string, unknown>) => void = () => undefined,
): Ingest {
  const store = new EventStore(ds);
  // PostgreSQL: day partitions for every event time ingest can store (within the clock-skew
  // tolerance of now; sanitizeBatch stores anything further at the receive time), and two days
  // more ahead so maintenance may stop for that long before rows fall into DEFAULT.
  const partitions = store.dialect === "postgres" ? new EventPartitions(ds, { backMs: config.eventTimeToleranceMs, aheadMs: config.eventTimeToleranceMs + 2 * DAY_MS }) : undefined;
  const registry = new AgentRegistry(SqlAgentRepository.of(ds), config.agentOfflineAfterMs, Date.now, {
    seqWindow: config.seqWindow,
    stalledAfterMs: config.agentStalledAfterMs,
    remote: remote?.agents,
  });
  return {
    store,
    writer: new IngestWriter(store),
    registry,
    inventory: new InventoryService(new InventoryRepository(ds), registry, Date.now, remote),
    retention: new RetentionJob(store, config.eventRetentionMs, undefined, Date.now, {
      partitions,
      onError: (step, err) => warn("event retention step failed; the next round retries", { step, error: String(err) }),
    }),
    events: new EventQueryService(store),
  };
}
