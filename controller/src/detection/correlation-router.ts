import { DEFAULT_PARTITIONS, partitionOf } from "../bus/partition";
import type { PartitionLeaseStats } from "../bus/partition-leases";
import type { OwnedInput, RoutedInput } from "./engine-protocol";

/** The side that runs correlation windows: the pipeline of the process that owns the partitions. */
export interface CorrelationOwner {
  /** Inputs of owned partitions; resolves once they are in the windows and their alerts are written. */
  accept(inputs: OwnedInput[]): Promise<void>;
  /** Partitions no longer owned: their windows must be dropped before the promise resolves. */
  drop(partitions: number[]): Promise<void>;
  /** Hosts' newest event times (matching events or not): the groups they feed move on. In order with accept. */
  clocks(newest: ReadonlyMap<string, number>): Promise<void>;
}

export interface CorrelationRouterStats {
  /** Inputs handed to owners (published, in distributed mode). */
  routed: number;
  /** Distributed mode: messages published (inputs go in batches, one or a few per partition and chunk). */
  published?: number;
  /** Inputs received for owned partitions (replays after failover included). */
  received: number;
  /** Received messages that failed their checks (counted, terminated, never redelivered). */
  rejected: number;
  /** Partitions owned now. */
  owned: number;
  /** Distributed mode: the partition leases' counters (bus/partition-leases.ts). */
  leases?: PartitionLeaseStats;
}

/**
 * Carries routed correlation inputs (issue #12) from the detection worker that matched the event
 * to the owner of the input's group: partitionOf(key). In-process (single-process mode) this
 * process owns every partition; in distributed mode (jetstream-correlation-router.ts) a JetStream
 * stream per partition, with leased owners that replay their partition when they take it over.
 */
export interface CorrelationRouter {
  readonly partitions: number;
  readonly stats: CorrelationRouterStats;
  /** Starts delivering owned partitions' inputs to `owner`. */
  start(owner: CorrelationOwner): Promise<void>;
  /** Hands inputs to their owners; resolves once they are safely handed over (stored by the stream). */
  route(inputs: RoutedInput[]): Promise<void>;
  /**
   * Hosts' newest event times (a chunk's), for the owners of the groups those hosts feed, after
   * the inputs routed before them.
   */
  clocks(newest: ReadonlyMap<string, number>): Promise<void>;
  /**
   * The owner lost its windows (its detection worker was restarted): feed the owned partitions'
   * inputs again from the replay horizon, where the router can (in-process it cannot: the windows
   * refill within their timespan, as before).
   */
  rebuild(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Single-process mode: every partition is ours. Inputs are handed over without waiting for their
 * windows (the pipeline queues them after the chunk that routed them), so the owner is the same
 * serial worker loop and nothing can deadlock.
 */
export class LocalCorrelationRouter implements CorrelationRouter {
  private owner?: CorrelationOwner;
  private readonly counts = { routed: 0, received: 0 };

  constructor(readonly partitions: number = DEFAULT_PARTITIONS) {}

  get stats(): CorrelationRouterStats {
    return { ...this.counts, rejected: 0, owned: this.owner ? this.partitions : 0 };
  }

  start(owner: CorrelationOwner): Promise<void> {
    this.owner = owner;
    return Promise.resolve();
  }

  route(inputs: RoutedInput[]): Promise<void> {
    if (!this.owner || inputs.length === 0) return Promise.resolve();
    this.counts.routed += inputs.length;
    this.counts.received += inputs.length;
    void this.owner.accept(inputs.map((i) => ({ ...i, partition: partitionOf(i.key, this.partitions) })));
    return Promise.resolve();
  }

  clocks(newest: ReadonlyMap<string, number>): Promise<void> {
    if (this.owner && newest.size) void this.owner.clocks(newest);
    return Promise.resolve();
  }

  rebuild(): Promise<void> {
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.owner = undefined;
    return Promise.resolve();
  }
}
