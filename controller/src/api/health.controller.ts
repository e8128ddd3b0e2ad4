import { Controller, Get, Inject, ServiceUnavailableException } from "@nestjs/common";
import { ApiOperation, ApiTags } from "@nestjs/swagger";
import { AgentRegistry } from "../agents/agent-registry";
import { DatabaseHealth } from "../database/database-health";
import { IngestWriter } from "../ingest/ingest-writer";
import { DetectionPipeline } from "../detection/pipeline";
import { ReplicaStatus } from "../bus/replica-status";
import { eventLoopDelay } from "../metrics/event-loop-delay";
import { CONTROLLER_VERSION } from "../version";

@ApiTags("health")
@Controller("api/v1/healthz")
export class HealthController {
  constructor(
    @Inject(DatabaseHealth) private readonly db: DatabaseHealth,
    @Inject(AgentRegistry) private readonly registry: AgentRegistry,
    @Inject(IngestWriter) private readonly writer: IngestWriter,
    @Inject(ReplicaStatus) private readonly replica: ReplicaStatus,
    @Inject(DetectionPipeline) private readonly detection: DetectionPipeline,
  ) {}

  @Get()
  @ApiOperation({ summary: "Liveness, database reachability and, in distributed mode, what this replica's role needs (NATS, its partitions)" })
  async health() {
    const role = this.replica.role;
    if (!(await this.db.reachable())) throw new ServiceUnavailableException({ status: "degraded", role, database: "unreachable" });
    const distributed = await this.replica.check();
    if (distributed && !distributed.ok) throw new ServiceUnavailableException({ status: "degraded", role, database: this.db.engine, distributed });
    return {
      status: "ok",
      version: CONTROLLER_VERSION,
      role,
      database: this.db.engine,
      agentsOnline: this.registry.onlineCount(),
      ingest: this.writer.stats,
      // How far detection is behind storage, and where its time goes: storage waits for it (backpressure).
      detection: this.detectionHealth(),
      // How late this process's main thread runs its callbacks (last 10 s): a late loop delays every round trip.
      eventLoop: eventLoopDelay(),
      // Registrations' agent-row reads and writes, a batch per statement: items / batches is how many agents shared one.
      registrations: this.registry.registrationBatching(),
      ...(distributed ? { distributed } : {}),
    };
  }

  private detectionHealth() {
    const s = this.detection.stats;
    const stageMs = { ...s.stageMs };
    for (const k of Object.keys(stageMs) as Array<keyof typeof stageMs>) stageMs[k] = Math.round(stageMs[k]);
    return { queuedEvents: s.queuedEvents, processedEvents: s.processedEvents, gateWaits: s.gateWaits, stageMs };
  }
}
