import { BadRequestException, Body, Controller, Get, Inject, NotFoundException, Param, Put } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiTags } from "@nestjs/swagger";
import { AgentRegistry } from "../agents/agent-registry";
import { AuditLog } from "../audit/audit-log";
import { bodyObject } from "../auth/body";
import { Actor } from "./actor";

const TAG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

@ApiTags("agents")
@Controller("api/v1/agents")
export class AgentsController {
  constructor(@Inject(AgentRegistry) private readonly registry: AgentRegistry, @Inject(AuditLog) private readonly audit: AuditLog) {}

  @Get()
  @ApiOperation({ summary: "All enrolled agents with online and telemetry state, clock offset, sensor health, spool backlog and drops" })
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

  /** Admin only (the default for a write): these are the tags guard rails trust. */
  @Put(":id/tags")
  @ApiOperation({ summary: "Set the agent's trusted tags (guard rails, playbook agentTags); they replace the enrollment token's" })
  @ApiBody({ schema: { type: "object", properties: { tags: { type: "array", items: { type: "string" }, maxItems: 32 } } } })
  async setTags(@Param("id") id: string, @Body() body: unknown, @Actor() actor: string) {
    const b = bodyObject(body, ["tags"]);
    const tags = b.tags;
    if (!Array.isArray(tags) || tags.length > 32 || !tags.every((t) => typeof t === "string" && TAG.test(t))) {
      throw new BadRequestException(`field "tags" must be a list of at most 32 tags (1-64 of [A-Za-z0-9._:-])`);
    }
    const changed = await this.registry.setTags(id, [...new Set(tags as string[])]);
    if (!changed) throw new NotFoundException(`agent "${id.slice(0, 128)}" not found`);
    await this.audit.append({ actor, action: "agent.tags_set", target: `agent:${id}`, details: changed });
    return this.registry.get(id);
  }
}
