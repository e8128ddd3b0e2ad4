import { BadRequestException, Body, ConflictException, Controller, Delete, Get, HttpCode, Inject, NotFoundException, Param, Post, Put, Query } from "@nestjs/common";
import { Actor } from "./actor";
import { Roles } from "../http/roles";
import { ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { PlaybookConflict, PlaybookNotFound, PlaybookService, playbookActionView } from "../playbooks/playbook-service";
import { PlaybookError, parsePlaybook } from "../playbooks/playbook-schema";
import type { PlaybookEntity } from "../database/entities/playbook.entities";
import { optEnum, optInt, optString, rejectUnknown } from "./query-params";

function view(p: PlaybookEntity) {
  const spec = parsePlaybook(p.yaml);
  return {
    id: p.id,
    name: p.name,
    version: p.version,
    enabled: p.enabled,
    approval: spec.approval,
    when: spec.when,
    actions: spec.actions,
    yaml: p.yaml,
    createdAt: new Date(p.createdAt).toISOString(),
    updatedAt: new Date(p.updatedAt).toISOString(),
  };
}

/** Accepts the YAML as a text/yaml body or as JSON {yaml: "..."}. */
function yamlOf(body: unknown): string {
  if (typeof body === "string" && body.trim()) return body;
  if (body && typeof body === "object" && typeof (body as { yaml?: unknown }).yaml === "string") return (body as { yaml: string }).yaml;
  throw new BadRequestException('send the playbook as a text/yaml body, or JSON {"yaml": "..."}');
}

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PlaybookError) throw new BadRequestException(`invalid playbook: ${err.message}`);
    if (err instanceof PlaybookNotFound) throw new NotFoundException(err.message);
    if (err instanceof PlaybookConflict) throw new ConflictException(err.message);
    throw err;
  }
}

const STATES = ["issued", "pending", "approved", "rejected", "refused", "skipped"] as const;
const PB_SCHEMA = {
  schema: {
    type: "object",
    properties: { yaml: { type: "string", description: "playbook YAML: id, name, enabled, when {minScore, rules, tags, entityKinds, agentTags}, actions [{type, params}], approval auto|analyst" } },
  },
};

@ApiTags("playbooks")
@Controller("api/v1")
export class PlaybooksController {
  constructor(@Inject(PlaybookService) private readonly playbooks: PlaybookService) {}

  @Get("playbooks")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Playbooks (current versions)" })
  list() {
    return { items: this.playbooks.list().map(view) };
  }

  @Post("playbooks")
  @ApiOperation({ summary: "Create a playbook from YAML" })
  @ApiConsumes("application/json", "text/yaml")
  @ApiBody(PB_SCHEMA)
  create(@Body() body: unknown, @Actor() actor: string) {
    return mapErrors(async () => view(await this.playbooks.save(yamlOf(body), actor, "create")));
  }

  @Get("playbooks/:id")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "One playbook with its version history" })
  get(@Param("id") id: string) {
    return mapErrors(async () => ({
      ...view(await this.playbooks.get(id)),
      versions: (await this.playbooks.history(id)).map((v) => ({ version: v.version, createdAt: new Date(v.createdAt).toISOString(), createdBy: v.createdBy })),
    }));
  }

  @Put("playbooks/:id")
  @ApiOperation({ summary: "Replace a playbook (a new version)" })
  @ApiConsumes("application/json", "text/yaml")
  @ApiBody(PB_SCHEMA)
  update(@Param("id") id: string, @Body() body: unknown, @Actor() actor: string) {
    return mapErrors(async () => view(await this.playbooks.save(yamlOf(body), actor, "update", id)));
  }

  @Delete("playbooks/:id")
  @HttpCode(204)
  @ApiOperation({ summary: "Delete a playbook (its versions and past decisions are kept)" })
  remove(@Param("id") id: string, @Actor() actor: string) {
    return mapErrors(() => this.playbooks.remove(id, actor));
  }

  @Get("playbook-actions")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Decisions playbooks made: issued, pending approval, refused by a guard rail, skipped" })
  @ApiQuery({ name: "case", required: false })
  @ApiQuery({ name: "alert", required: false })
  @ApiQuery({ name: "state", required: false, enum: STATES })
  @ApiQuery({ name: "limit", required: false })
  async actions(@Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["case", "alert", "state", "limit"]);
    const items = await this.playbooks.actionsFor({
      caseId: optString(q, "case", 64),
      alertId: optString(q, "alert", 64),
      state: optEnum(q, "state", STATES),
      limit: optInt(q, "limit", 1, 1000) ?? 100,
    });
    return { items: items.map(playbookActionView) };
  }

  @Post("playbook-actions/:id/approve")
  @Roles("analyst")
  @ApiOperation({ summary: "Approve a pending action: the command is signed and sent" })
  approve(@Param("id") id: string, @Actor() actor: string) {
    return mapErrors(async () => playbookActionView(await this.playbooks.decidePending(id, true, actor)));
  }

  @Post("playbook-actions/:id/reject")
  @Roles("analyst")
  @ApiOperation({ summary: "Reject a pending action" })
  reject(@Param("id") id: string, @Actor() actor: string) {
    return mapErrors(async () => playbookActionView(await this.playbooks.decidePending(id, false, actor)));
  }
}
