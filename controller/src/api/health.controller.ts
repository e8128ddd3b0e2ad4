import { Controller, Get, Inject, ServiceUnavailableException } from "@nestjs/common";
import { ApiOperation, ApiTags } from "@nestjs/swagger";
import { DataSource } from "typeorm";
import { AgentRegistry } from "../agents/agent-registry";
import { IngestWriter } from "../ingest/ingest-writer";
import { CONTROLLER_VERSION } from "../version";

@ApiTags("health")
@Controller("api/v1/healthz")
export class HealthController {
  constructor(
    @Inject(DataSource) private readonly ds: DataSource,
    @Inject(AgentRegistry) private readonly registry: AgentRegistry,
    @Inject(IngestWriter) private readonly writer: IngestWriter,
  ) {}

  @Get()
  @ApiOperation({ summary: "Liveness and database reachability" })
  async health() {
    try {
      await this.ds.query("SELECT 1");
    } catch {
      throw new ServiceUnavailableException({ status: "degraded", database: "unreachable" });
    }
    return { status: "ok", version: CONTROLLER_VERSION, database: this.ds.options.type, agentsOnline: this.registry.onlineCount(), ingest: this.writer.stats };
  }
}
