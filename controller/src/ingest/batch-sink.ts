import type { Event } from "@vigil/proto";
import type { AgentCursor } from "../database/repositories/event-store";
import type { RefusedBatch } from "./ingest-writer";

/**
 * Where an agent session hands a sanitized batch. It resolves only once the batch is durable
 * (committed to the database, or stored by JetStream), so the session acks the agent after it.
 * Single-process mode: IngestWriter (the database). Distributed mode: JetStreamSink.
 */
export interface BatchSink {
  submit(agentId: string, events: Event[], cursor: AgentCursor, prevAcked: number, clock: { receivedAt?: number; reportedTimes?: ReadonlyArray<number | undefined> }): Promise<unknown>;
  refused(r: RefusedBatch): void;
  /**
   * The cursor an agent resumes from, given what the database says. Distributed mode: batches
   * acked but not yet written by a storage worker count too (no false gap, no replay stored twice).
   */
  resumeCursor?(agentId: string, fromDatabase: AgentCursor): Promise<AgentCursor>;
}
