import type { Logger } from "pino";
import type { ControllerConfig } from "../config/config";
import type { CorrelationRouter } from "../detection/correlation-router";
import { JetStreamCorrelationRouter } from "../detection/jetstream-correlation-router";
import type { Distributed } from "./distributed";

/**
 * The correlation router of a distributed replica that runs detection (worker or all, issue #12):
 * correlation groups partitioned over those replicas by lease, their inputs on JetStream.
 * Otherwise undefined: the pipeline routes in-process (single-process mode; ingest and api
 * replicas store nothing, so they route nothing and own nothing).
 */
export function correlationRouterFor(config: ControllerConfig, distributed: Distributed | undefined, logger: Logger): CorrelationRouter | undefined {
  const d = config.distributed;
  if (!distributed || !d || (config.role !== "worker" && config.role !== "all")) return undefined;
  return new JetStreamCorrelationRouter({
    nc: distributed.nc,
    names: distributed.names,
    partitions: d.partitions,
    replicaId: d.replicaId,
    leaseTtlMs: d.leaseTtlMs,
    replayMs: d.correlationReplayMs,
    log: (level, msg, fields) => logger[level](fields ?? {}, msg),
  });
}
