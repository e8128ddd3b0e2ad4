import { Controller, Get, Inject, ServiceUnavailableException } from "@nestjs/common";
import { ApiOperation, ApiTags } from "@nestjs/swagger";
import { AgentRegistry } from "../agents/agent-registry";
import { DatabaseHealth } from "../database/database-health";
import { IngestWriter } from "../ingest/ingest-writer";
import { CONTROLLER_VERSION } from "../version";

@ApiTags("health")
@Controller("api/v1/healthz")
export class HealthController {
  constructor(
    @Inject(DatabaseHealth) private readonly db: DatabaseHealth,
    @Inject(AgentRegistry) private readonly registry: AgentRegistry,
    @Inject(IngestWriter) private readonly writer: IngestWriter,
  ) {}

  @Get()
  @ApiOperation({ summary: "Liveness and database reachability" })
  async health() {
    if (!(await this.db.reachable())) throw new ServiceUnavailableException({ status: "degraded", database: "unreachable" });
    return { status: "ok", version: CONTROLLER_VERSION, database: this.db.engine, agentsOnline: this.registry.onlineCount(), ingest: this.writer.stats };
  }
}
