import { Controller, Get, Inject, NotFoundException, Param } from "@nestjs/common";
import { ApiOperation, ApiTags } from "@nestjs/swagger";
import { AgentRegistry } from "../agents/agent-registry";

@ApiTags("agents")
@Controller("api/v1/agents")
export class AgentsController {
  constructor(@Inject(AgentRegistry) private readonly registry: AgentRegistry) {}

  @Get()
  @ApiOperation({ summary: "All enrolled agents with online state, sensor health, spool backlog and drops" })
  async list() {
    return { items: await this.registry.list() };
  }

  @Get(":id")
  @ApiOperation({ summary: "One agent" })
  async get(@Param("id") id: string) {
    const a = await this.registry.get(id);
    if (!a) throw new NotFoundException(`agent "${id.slice(0, 128)}" not found`);
    return a;
  }
}
