import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Inject, NotFoundException, Param, Post, Req } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiTags } from "@nestjs/swagger";
import { AuditLog } from "../audit/audit-log";
import { ApiKeys } from "../auth/api-keys";
import { bodyObject, fieldString } from "../auth/body";
import { actorOf, isRole, Roles, ROLES } from "../http/roles";

@ApiTags("admin")
@Controller("api/v1/apikeys")
export class ApiKeysController {
  constructor(
    @Inject(ApiKeys) private readonly keys: ApiKeys,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Post()
  @ApiOperation({ summary: "Create an API key (admin). The key is in this response only." })
  @ApiBody({ schema: { type: "object", required: ["role"], properties: { role: { type: "string", enum: [...ROLES] }, name: { type: "string", maxLength: 128 } } } })
  async create(@Body() body: unknown, @Req() req: unknown) {
    const b = bodyObject(body, ["role", "name"]);
    const role = fieldString(b, "role", 16, true);
    if (!isRole(role)) throw new BadRequestException(`field "role" must be one of ${ROLES.join(", ")}`);
    const name = fieldString(b, "name", 128) ?? "";
    let created;
    try {
      created = await this.keys.create(role, name, actorOf(req));
    } catch (err) {
      if (err instanceof RangeError) throw new BadRequestException(err.message);
      throw err;
    }
    await this.audit.append({ actor: actorOf(req), action: "apikey.created", target: `apikey:${created.view.id}`, details: { role, name } });
    return { ...created.view, key: created.key };
  }

  @Get()
  @Roles()
  @ApiOperation({ summary: "API keys (admin); never the keys themselves" })
  async list() {
    return { items: await this.keys.list() };
  }

  @Delete(":id")
  @HttpCode(200)
  @ApiOperation({ summary: "Revoke an API key (admin)" })
  async revoke(@Param("id") id: string, @Req() req: unknown) {
    if (!(await this.keys.revoke(id))) throw new NotFoundException(`no active API key "${id.slice(0, 32)}"`);
    await this.audit.append({ actor: actorOf(req), action: "apikey.revoked", target: `apikey:${id}` });
    return { id, revoked: true };
  }
}
