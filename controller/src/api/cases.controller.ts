import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, Req } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { VERDICTS, type AlertVerdict } from "../database/entities/alert.entity";
import { actorOf, can, principalOf, Roles } from "../http/roles";
import { noteAudit } from "../audit/request-audit";
import { CaseQuery } from "../cases/case-query";
import { CaseService } from "../cases/case-service";
import { decodeSeenCursor, encodeSeenCursor } from "./detection-cursor";
import { optEnum, optInt, optString, rejectUnknown } from "./query-params";

const STATES = ["new", "acknowledged", "resolved"] as const;

@ApiTags("cases")
@Controller("api/v1/cases")
export class CasesController {
  constructor(
    @Inject(CaseQuery) private readonly cases: CaseQuery,
    @Inject(CaseService) private readonly service: CaseService,
  ) {}

  @Get()
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Cases, most recently active first" })
  @ApiQuery({ name: "state", required: false, enum: STATES })
  @ApiQuery({ name: "minScore", required: false, description: "0-100" })
  @ApiQuery({ name: "limit", required: false, description: "1-500, default 50" })
  @ApiQuery({ name: "cursor", required: false, description: "nextCursor from the previous page" })
  async list(@Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["state", "minScore", "limit", "cursor"]);
    const limit = optInt(q, "limit", 1, 500) ?? 50;
    const items = await this.cases.list({ state: optEnum(q, "state", STATES), minScore: optInt(q, "minScore", 0, 100), limit, cursor: decodeSeenCursor(optString(q, "cursor", 200)) });
    const last = items.at(-1);
    return { items: await this.cases.views(items), nextCursor: items.length === limit && last ? encodeSeenCursor(last) : null };
  }

  @Get(":id")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "One case with its whole story: alerts with score breakdowns, the timeline of underlying events, actions" })
  async get(@Param("id") id: string, @Req() req: unknown) {
    const c = await this.cases.story(id, { showEvidence: can(principalOf(req)?.role, "evidence.read_output") });
    if (!c) throw new NotFoundException(`no case with id '${id}'`);
    return c;
  }

  @Post(":id/title")
  @HttpCode(200)
  @Roles("analyst")
  @ApiOperation({ summary: "Rename a case (detection sets the title once, from the alert that opened it, and never changes it)" })
  @ApiBody({ schema: { type: "object", properties: { title: { type: "string", minLength: 1, maxLength: 512 } }, required: ["title"] } })
  async rename(@Param("id") id: string, @Body() body: unknown) {
    const b = body as Record<string, unknown> | undefined;
    if (!b || typeof b !== "object") throw new BadRequestException("body must be a JSON object");
    const unknown = Object.keys(b).filter((k) => k !== "title");
    if (unknown.length) throw new BadRequestException(`unknown body field "${unknown[0]}"; allowed: title`);
    const title = typeof b.title === "string" ? b.title.trim() : "";
    if (!title || title.length > 512) throw new BadRequestException(`body field "title" must be a non-empty string of at most 512 characters`);
    const c = await this.service.rename(id, title);
    if (!c) throw new NotFoundException(`no case with id '${id}'`);
    noteAudit({ title });
    return (await this.cases.views([c]))[0];
  }

  @Post(":id/state")
  @HttpCode(200)
  @Roles("analyst")
  @ApiOperation({ summary: "Acknowledge, or resolve with a verdict (resolving resolves the case's alerts)" })
  @ApiBody({ schema: { type: "object", properties: { state: { type: "string", enum: ["acknowledged", "resolved"] }, verdict: { type: "string", enum: [...VERDICTS] } }, required: ["state"] } })
  async setState(@Param("id") id: string, @Body() body: unknown, @Req() req: unknown) {
    const b = body as Record<string, unknown> | undefined;
    if (!b || typeof b !== "object") throw new BadRequestException("body must be a JSON object");
    if (b.state !== "acknowledged" && b.state !== "resolved") throw new BadRequestException(`body field "state" must be acknowledged or resolved`);
    if (b.state === "resolved" && !VERDICTS.includes(b.verdict as AlertVerdict)) throw new BadRequestException(`body field "verdict" is required to resolve: one of ${VERDICTS.join(", ")}`);
    if (b.verdict !== undefined && !VERDICTS.includes(b.verdict as AlertVerdict)) throw new BadRequestException(`body field "verdict" must be one of ${VERDICTS.join(", ")}`);
    const c = await this.service.setState(id, b.state, b.verdict as AlertVerdict | undefined, actorOf(req));
    if (!c) throw new NotFoundException(`no case with id '${id}'`);
    return (await this.cases.views([c]))[0];
  }
}
