import type { NatsConnection } from "@nats-io/transport-node";
import type { BusLog } from "../bus/nats-connection";
import type { BusNames } from "../bus/streams";
import { JetStreamCorrelationRouter } from "../detection/jetstream-correlation-router";
import type { CorrelationRouter } from "../detection/correlation-router";

/**
 * The correlation router of a distributed replica (issue #12): correlation groups partitioned
 * over the replicas by lease, their inputs on JetStream. Single-process mode passes nothing and the
 * pipeline routes in-process.
 */
export function createCorrelationRouter(deps: { nc: NatsConnection; names: BusNames; partitions: number; replicaId: string; log: BusLog; replayMs?: number; leaseTtlMs?: number }): CorrelationRouter {
  return new JetStreamCorrelationRouter(deps);
}
