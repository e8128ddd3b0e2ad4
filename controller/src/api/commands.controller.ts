import { BadRequestException, Body, ConflictException, Controller, ForbiddenException, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, Req } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { AgentRegistry } from "../agents/agent-registry";
import { CommandParamError, COMMAND_TYPES } from "../commands/command-params";
import { checkCaseId, CommandForbidden, CommandNotFound, CommandService, commandView, NotReversible } from "../commands/command-service";
import { optEnum, optInt, optString, rejectUnknown } from "./query-params";
import { Actor } from "./actor";
import { can, principalOf, Roles } from "../http/roles";

/** Evidence output only for keys holding evidence.read_output (analyst, admin). */
const viewFor = (req: unknown) => ({ showEvidence: can(principalOf(req)?.role, "evidence.read_output") });

const STATES = ["queued", "sent", "succeeded", "failed", "refused", "expired", "not_enforced"] as const;

interface IssueBody {
  type?: unknown;
  params?: unknown;
  ttlSeconds?: unknown;
  caseId?: unknown;
}

function parseTtl(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 7 * 86400) throw new BadRequestException(`body field "ttlSeconds" must be an integer between 1 and 604800`);
  return v * 1000;
}

@ApiTags("commands")
@Controller("api/v1")
export class CommandsController {
  constructor(
    @Inject(CommandService) private readonly commands: CommandService,
    @Inject(AgentRegistry) private readonly registry: AgentRegistry,
  ) {}

  private async issue(agentId: string, type: unknown, params: unknown, body: IssueBody, requestedBy: string, req: unknown) {
    if (!(await this.registry.get(agentId))) throw new NotFoundException(`agent "${agentId.slice(0, 128)}" not found`);
    if (typeof type !== "string") throw new BadRequestException(`body field "type" is required: one of ${COMMAND_TYPES.join(", ")}`);
    try {
      const caseId = checkCaseId(body.caseId);
      const c = await this.commands.issue(agentId, type, params, {
        requestedBy,
        ttlMs: parseTtl(body.ttlSeconds),
        caseId,
        mayFetchFiles: this.commands.permits(principalOf(req)?.role, "evidence.fetch_file"),
      });
      return commandView(c, viewFor(req));
    } catch (err) {
      if (err instanceof CommandParamError) throw new BadRequestException(err.message);
      if (err instanceof CommandForbidden) throw new ForbiddenException(err.message);
      throw err;
    }
  }

  @Post("agents/:id/commands")
  @Roles("analyst")
  @HttpCode(202)
  @ApiOperation({ summary: "Sign and send a command to an agent (queued while it is offline, until it expires). collect_evidence with filePath (a file's contents) needs an admin key and a reason" })
  @ApiBody({
    schema: {
      type: "object",
      required: ["type"],
      properties: {
        type: { type: "string", enum: COMMAND_TYPES },
        params: { type: "object" },
        ttlSeconds: { type: "integer", minimum: 1, maximum: 604800 },
        caseId: { type: "string", maxLength: 64, pattern: "^[A-Za-z0-9._:-]+$" },
      },
    },
  })
  async create(@Param("id") id: string, @Body() body: IssueBody, @Actor() actor: string, @Req() req: unknown) {
    if (!body || typeof body !== "object") throw new BadRequestException("a JSON body is required");
    return this.issue(id, body.type, body.params, body, actor, req);
  }

  @Post("agents/:id/isolate")
  @Roles("analyst")
  @HttpCode(202)
  @ApiOperation({ summary: "Isolate the host (the controller stays reachable)" })
  async isolate(@Param("id") id: string, @Actor() actor: string, @Req() req: unknown, @Body() body: IssueBody & { allowCidrs?: unknown; reason?: unknown } = {}) {
    const params: Record<string, unknown> = {};
    if (body?.allowCidrs !== undefined) params.allowCidrs = body.allowCidrs;
    if (body?.reason !== undefined) params.reason = body.reason;
    return this.issue(id, "isolate", params, body ?? {}, actor, req);
  }

  @Post("agents/:id/release")
  @Roles("analyst")
  @HttpCode(202)
  @ApiOperation({ summary: "Release an isolated host" })
  async release(@Param("id") id: string, @Actor() actor: string, @Req() req: unknown, @Body() body: IssueBody & { reason?: unknown } = {}) {
    return this.issue(id, "release", body?.reason !== undefined ? { reason: body.reason } : {}, body ?? {}, actor, req);
  }

  @Get("commands")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Commands, newest first" })
  @ApiQuery({ name: "agent", required: false })
  @ApiQuery({ name: "state", required: false, enum: STATES })
  @ApiQuery({ name: "case", required: false })
  @ApiQuery({ name: "limit", required: false })
  async list(@Query() q: Record<string, unknown>, @Req() req: unknown) {
    rejectUnknown(q, ["agent", "state", "case", "limit"]);
    const items = await this.commands.list({ agentId: optString(q, "agent", 128), state: optEnum(q, "state", STATES), caseId: optString(q, "case", 64), limit: optInt(q, "limit", 1, 1000) ?? 100 });
    const view = viewFor(req);
    return { items: items.map((c) => commandView(c, view)) };
  }

  @Get("commands/:id")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "One command with its result and its action-log history" })
  async get(@Param("id") id: string, @Req() req: unknown) {
    try {
      const c = await this.commands.get(id);
      return {
        ...commandView(c, viewFor(req)),
        history: (await this.commands.history(id)).map((h) => ({ time: new Date(h.time).toISOString(), step: h.step, detail: JSON.parse(h.detail) as unknown })),
      };
    } catch (err) {
      if (err instanceof CommandNotFound) throw new NotFoundException(err.message);
      throw err;
    }
  }

  @Post("commands/:id/undo")
  @Roles("analyst")
  @HttpCode(202)
  @ApiOperation({ summary: "Reverse a succeeded action (release an isolation, lift an IP block)" })
  async undo(@Param("id") id: string, @Actor() actor: string, @Req() req: unknown) {
    try {
      return commandView(await this.commands.undo(id, actor), viewFor(req));
    } catch (err) {
      if (err instanceof CommandNotFound) throw new NotFoundException(err.message);
      if (err instanceof NotReversible) throw new ConflictException(err.message);
      if (err instanceof CommandParamError) throw new BadRequestException(err.message);
      throw err;
    }
  }
}
