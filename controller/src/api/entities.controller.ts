import { Controller, Get, Inject, Query } from "@nestjs/common";
import { ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { HostNames } from "../agents/host-names";
import { Roles } from "../http/roles";
import { ENTITY_KINDS, EntityRiskService } from "../risk/entity-risk-service";
import { optEnum, optInt, rejectUnknown } from "./query-params";

@ApiTags("entities")
@Controller("api/v1/entities")
export class EntitiesController {
  constructor(
    @Inject(EntityRiskService) private readonly risk: EntityRiskService,
    @Inject(HostNames) private readonly hosts: HostNames,
  ) {}

  @Get()
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Hosts, users and IPs with their current (decaying) risk" })
  @ApiQuery({ name: "sort", required: false, enum: ["risk", "value"], description: "default risk (highest first)" })
  @ApiQuery({ name: "kind", required: false, enum: ENTITY_KINDS })
  @ApiQuery({ name: "minRisk", required: false, description: "0-100" })
  @ApiQuery({ name: "limit", required: false, description: "1-1000, default 100" })
  async list(@Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["sort", "kind", "minRisk", "limit"]);
    const items = this.risk.list({
      sort: optEnum(q, "sort", ["risk", "value"] as const) ?? "risk",
      kind: optEnum(q, "kind", ENTITY_KINDS),
      minRisk: optInt(q, "minRisk", 0, 100),
      limit: optInt(q, "limit", 1, 1000) ?? 100,
    });
    // A host's value is its agent id; the hostname says which machine that is.
    const names = await this.hosts.of(items.filter((e) => e.kind === "host").map((e) => e.value));
    return { items: items.map((e) => (e.kind === "host" ? { ...e, hostname: names.get(e.value) ?? "" } : e)) };
  }
}
