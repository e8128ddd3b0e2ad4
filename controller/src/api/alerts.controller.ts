import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, Req } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { AlertActions } from "../alerts/alert-actions";
import { AlertQuery, alertView } from "../alerts/alert-query";
import { ALERT_STATES, VERDICTS, type AlertVerdict } from "../database/entities/alert.entity";
import { actorOf, Roles } from "../http/roles";
import { SuppressionInvalid } from "../alerts/suppression-service";
import { decodeScoreCursor, decodeSeenCursor, encodeScoreCursor, encodeSeenCursor } from "./detection-cursor";
import { optEnum, optInt, optString, optTime, rejectUnknown } from "./query-params";

const ALLOWED = ["minScore", "rule", "agent", "entity", "state", "since", "until", "case", "limit", "cursor", "sort"] as const;

@ApiTags("alerts")
@Controller("api/v1/alerts")
export class AlertsController {
  constructor(
    @Inject(AlertQuery) private readonly alerts: AlertQuery,
    @Inject(AlertActions) private readonly actions: AlertActions,
  ) {}

  @Get()
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Alerts, most recently active first, with cursor pagination" })
  @ApiQuery({ name: "minScore", required: false, description: "0-100" })
  @ApiQuery({ name: "rule", required: false, description: "rule id" })
  @ApiQuery({ name: "agent", required: false, description: "agent id" })
  @ApiQuery({ name: "entity", required: false, description: "kind:value (host:, user:, ip:) matching any entity, or a bare value matching the primary entity" })
  @ApiQuery({ name: "state", required: false, enum: ALERT_STATES })
  @ApiQuery({ name: "since", required: false, description: "last seen (event time) >= this; ISO 8601 or epoch ms" })
  @ApiQuery({ name: "until", required: false, description: "last seen (event time) < this" })
  @ApiQuery({ name: "case", required: false, description: "case id" })
  @ApiQuery({ name: "limit", required: false, description: "1-500, default 50" })
  @ApiQuery({ name: "cursor", required: false, description: "nextCursor from the previous page" })
  @ApiQuery({ name: "sort", required: false, enum: ["recent", "score"], description: "recent (default): most recently active first; score: highest score first" })
  async list(@Query() q: Record<string, unknown>) {
    rejectUnknown(q, ALLOWED);
    const limit = optInt(q, "limit", 1, 500) ?? 50;
    const since = optTime(q, "since");
    const until = optTime(q, "until");
    if (since !== undefined && until !== undefined && since >= until) throw new BadRequestException(`query parameter "since" must be before "until"`);
    const entity = optString(q, "entity", 300);
    const sort = optEnum(q, "sort", ["recent", "score"] as const) ?? "recent";
    const cursor = optString(q, "cursor", 200);
    if (entity?.includes(":") && !/^(host|user|ip):./.test(entity)) throw new BadRequestException(`query parameter "entity" must be host:, user: or ip: followed by a value, got "${entity}"`);
    const items = await this.alerts.list({
      minScore: optInt(q, "minScore", 0, 100),
      ruleId: optString(q, "rule", 128),
      agentId: optString(q, "agent", 128),
      entity,
      state: optEnum(q, "state", ALERT_STATES),
      since,
      until,
      caseId: optString(q, "case", 36),
      limit,
      sort,
      cursor: sort === "score" ? undefined : decodeSeenCursor(cursor),
      scoreCursor: sort === "score" ? decodeScoreCursor(cursor) : undefined,
    });
    const last = items.at(-1);
    const next = items.length === limit && last ? (sort === "score" ? encodeScoreCursor(last) : encodeSeenCursor(last)) : null;
    return { items: items.map(alertView), nextCursor: next };
  }

  @Get(":id")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "One alert with its score breakdown, evidence references and feedback history" })
  async get(@Param("id") id: string) {
    const a = await this.alerts.get(id);
    if (!a) throw new NotFoundException(`no alert with id '${id}'`);
    const feedback = await this.actions.history(id);
    return { ...alertView(a), feedback: feedback.map((f) => ({ verdict: f.verdict, note: f.note, actor: f.actor, at: new Date(f.createdAt).toISOString(), suppressionId: f.suppressionId })) };
  }

  @Post(":id/ack")
  @HttpCode(200)
  @Roles("analyst")
  @ApiOperation({ summary: "Acknowledge an alert" })
  async ack(@Param("id") id: string) {
    const a = await this.actions.ack(id);
    if (!a) throw new NotFoundException(`no alert with id '${id}'`);
    return alertView(a);
  }

  @Post(":id/feedback")
  @HttpCode(200)
  @Roles("analyst")
  @ApiOperation({ summary: "Analyst verdict: adjusts the (rule, entity) weight; a false positive offers (or creates) a suppression" })
  @ApiBody({ schema: { type: "object", properties: { verdict: { type: "string", enum: [...VERDICTS] }, note: { type: "string" }, createSuppression: { type: "boolean" } }, required: ["verdict"] } })
  async feedback(@Param("id") id: string, @Body() body: unknown, @Req() req: unknown) {
    const b = body as Record<string, unknown> | undefined;
    if (!b || typeof b !== "object") throw new BadRequestException("body must be a JSON object");
    const unknown = Object.keys(b).filter((k) => !["verdict", "note", "createSuppression"].includes(k));
    if (unknown.length) throw new BadRequestException(`unknown body field "${unknown[0]}"; allowed: verdict, note, createSuppression`);
    if (!VERDICTS.includes(b.verdict as AlertVerdict)) throw new BadRequestException(`body field "verdict" must be one of ${VERDICTS.join(", ")}`);
    if (b.note !== undefined && (typeof b.note !== "string" || b.note.length > 4000)) throw new BadRequestException(`body field "note" must be a string of at most 4000 characters`);
    if (b.createSuppression !== undefined && typeof b.createSuppression !== "boolean") throw new BadRequestException(`body field "createSuppression" must be true or false`);
    if (b.createSuppression && b.verdict !== "false_positive") throw new BadRequestException(`body field "createSuppression" applies to false_positive verdicts only`);
    try {
      const r = await this.actions.feedback(id, b.verdict as AlertVerdict, b.note as string | undefined, b.createSuppression === true, actorOf(req));
      if (!r) throw new NotFoundException(`no alert with id '${id}'`);
      return r;
    } catch (e) {
      if (e instanceof SuppressionInvalid) throw new BadRequestException({ statusCode: 400, error: "Bad Request", message: e.message, errors: e.errors });
      throw e;
    }
  }
}
