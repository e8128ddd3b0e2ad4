import type { ControllerRole } from "../config/distributed-config";

/** What a replica's dependencies look like right now, for /healthz: `ok` false makes it answer 503. */
export interface ReplicaProbe {
  ok: boolean;
  [k: string]: unknown;
}

/**
 * This replica's role and, in distributed mode, the state of what the role needs (NATS for
 * ingest, NATS + its partitions for a worker). Single-process mode has no probe: the database
 * check alone decides health, as before.
 */
export class ReplicaStatus {
  constructor(
    readonly role: ControllerRole,
    private readonly probe?: () => Promise<ReplicaProbe>,
  ) {}

  async check(): Promise<ReplicaProbe | undefined> {
    return this.probe?.();
  }
}
