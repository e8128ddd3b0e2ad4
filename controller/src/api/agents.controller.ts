import { BadRequestException, Body, ConflictException, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Put } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiTags } from "@nestjs/swagger";
import { AgentRegistry } from "../agents/agent-registry";
import { AuditLog } from "../audit/audit-log";
import { bodyObject } from "../auth/body";
import { Roles } from "../http/roles";
import { InventoryService } from "../agents/inventory-service";
import { Actor } from "./actor";

const TAG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

@ApiTags("agents")
@Controller("api/v1/agents")
export class AgentsController {
  constructor(
    @Inject(AgentRegistry) private readonly registry: AgentRegistry,
    @Inject(AuditLog) private readonly audit: AuditLog,
    @Inject(InventoryService) private readonly inventory: InventoryService,
  ) {}

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

  @Get(":id/inventory")
  @ApiOperation({ summary: "The agent's latest host inventory: OS, kernel, CPU, memory, disks, interfaces, users, listening ports, installed packages" })
  async getInventory(@Param("id") id: string) {
    if (!(await this.registry.get(id))) throw new NotFoundException(`agent "${id.slice(0, 128)}" not found`);
    const inv = await this.inventory.get(id);
    if (!inv) throw new NotFoundException(`agent "${id.slice(0, 128)}" has sent no inventory yet (it does at its first connection; POST …/inventory/refresh asks again)`);
    return { agentId: inv.agentId, collectedAt: new Date(inv.collectedAt).toISOString(), receivedAt: new Date(inv.receivedAt).toISOString(), reason: inv.reason, inventory: inv.body };
  }

  @Post(":id/inventory/refresh")
  @Roles("analyst")
  @HttpCode(202)
  @ApiOperation({ summary: "Ask a connected agent for a fresh inventory (it arrives within a minute; GET …/inventory shows it)" })
  async refreshInventory(@Param("id") id: string) {
    if (!(await this.registry.get(id))) throw new NotFoundException(`agent "${id.slice(0, 128)}" not found`);
    if (!this.inventory.request(id)) throw new ConflictException(`agent "${id.slice(0, 128)}" is not connected to this controller`);
    return { requested: true };
  }
}
