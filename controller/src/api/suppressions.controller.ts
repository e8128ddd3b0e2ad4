import { BadRequestException, Body, Controller, Delete, Get, Inject, NotFoundException, Param, Post, Req } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiTags } from "@nestjs/swagger";
import { SuppressionInvalid, SuppressionService } from "../alerts/suppression-service";
import { actorOf, Roles } from "../http/roles";

@ApiTags("suppressions")
@Controller("api/v1/suppressions")
export class SuppressionsController {
  constructor(@Inject(SuppressionService) private readonly s: SuppressionService) {}

  @Get()
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Suppressions (allowlist entries) with hit counts and expiry" })
  list() {
    return { items: this.s.views() };
  }

  @Get(":id")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "One suppression" })
  get(@Param("id") id: string) {
    const v = this.s.get(id);
    if (!v) throw new NotFoundException(`no suppression with id '${id}'`);
    return v;
  }

  // Admin only (the guard's default for writes).
  @Post()
  @ApiOperation({ summary: "Create a suppression; 400 names each bad field" })
  @ApiBody({
    schema: {
      type: "object",
      required: ["reason"],
      properties: {
        id: { type: "string" },
        ruleId: { type: "string", description: "rule id, wildcards * ? allowed" },
        fields: { type: "object", description: "Sigma field name → value (wildcards) | {cidr} | list" },
        agentTags: { type: "array", items: { type: "string" } },
        expiresAt: { type: "string", description: "ISO 8601" },
        expiresAtMs: { type: "number" },
        reason: { type: "string" },
      },
    },
  })
  async create(@Body() body: unknown, @Req() req: unknown) {
    try {
      return await this.s.create(body, actorOf(req));
    } catch (e) {
      if (e instanceof SuppressionInvalid) throw new BadRequestException({ statusCode: 400, error: "Bad Request", message: e.message, errors: e.errors });
      throw e;
    }
  }

  @Delete(":id")
  @ApiOperation({ summary: "Delete a suppression" })
  async remove(@Param("id") id: string) {
    if (!(await this.s.remove(id))) throw new NotFoundException(`no suppression with id '${id}'`);
    return { deleted: id };
  }
}
