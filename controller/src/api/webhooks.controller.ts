import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Inject, NotFoundException, Param, Patch, Post, Query, Req } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { actorOf, Roles } from "../http/roles";
import { WEBHOOK_TOPICS } from "../integrations/notices";
import { WebhookInputError, WebhookNotFound, WebhookService, deliveryView, destinationView } from "../webhooks/webhook-service";
import { DELIVERY_STATES, WEBHOOK_FORMATS } from "../database/entities/webhook.entities";
import { optEnum, optInt, rejectUnknown } from "./query-params";

async function mapErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WebhookInputError) throw new BadRequestException(err.message);
    if (err instanceof WebhookNotFound) throw new NotFoundException(err.message);
    throw err;
  }
}

function deliveryId(s: string): number {
  if (!/^\d{1,15}$/.test(s)) throw new BadRequestException(`path parameter "deliveryId" must be a delivery id (a number), got "${s.slice(0, 32)}"`);
  return Number(s);
}

const SPEC_PROPS = {
  name: { type: "string", maxLength: 128 },
  url: { type: "string", format: "uri", description: "http(s) receiver; for pagerduty defaults to the Events API v2 endpoint" },
  format: { type: "string", enum: [...WEBHOOK_FORMATS], default: "generic" },
  topics: { type: "array", items: { type: "string", enum: [...WEBHOOK_TOPICS] }, default: ["alerts", "cases"] },
  minScore: { type: "integer", minimum: 0, maximum: 100, default: 0, description: "alerts, cases and notify below this score are not sent" },
  ruleTags: { type: "array", items: { type: "string" }, description: "only alerts (and notify) whose rule has one of these tags" },
  enabled: { type: "boolean", default: true },
  secret: { type: "string", minLength: 16, maxLength: 256, description: "HMAC-SHA256 signing secret; generated and returned once when omitted on create" },
  routingKey: { type: "string", maxLength: 256, description: "PagerDuty integration (routing) key; required for format pagerduty; never returned" },
};

/** Outbound webhooks: admin only (they hold secrets and decide where alert data goes). */
@ApiTags("webhooks")
@Roles()
@Controller("api/v1/webhooks")
export class WebhooksController {
  constructor(@Inject(WebhookService) private readonly webhooks: WebhookService) {}

  @Post()
  @ApiOperation({ summary: "Create a webhook destination (admin). A generated signing secret is in this response only." })
  @ApiBody({ schema: { type: "object", required: ["name"], properties: SPEC_PROPS } })
  create(@Body() body: unknown, @Req() req: unknown) {
    return mapErrors(async () => {
      const { destination, generatedSecret } = await this.webhooks.create(body, actorOf(req));
      return { ...destinationView(destination), ...(generatedSecret ? { secret: generatedSecret } : {}) };
    });
  }

  @Get()
  @ApiOperation({ summary: "Webhook destinations (admin); secrets as hints only" })
  list() {
    return { items: this.webhooks.list().map(destinationView) };
  }

  @Get(":id")
  @ApiOperation({ summary: "One webhook destination (admin)" })
  get(@Param("id") id: string) {
    return mapErrors(async () => destinationView(this.webhooks.get(id)));
  }

  @Patch(":id")
  @ApiOperation({ summary: "Change a webhook destination (admin); send only the fields to change" })
  @ApiBody({ schema: { type: "object", properties: SPEC_PROPS } })
  update(@Param("id") id: string, @Body() body: unknown, @Req() req: unknown) {
    return mapErrors(async () => destinationView(await this.webhooks.update(id, body, actorOf(req))));
  }

  @Delete(":id")
  @HttpCode(204)
  @ApiOperation({ summary: "Delete a webhook destination and its queued deliveries (admin)" })
  remove(@Param("id") id: string, @Req() req: unknown) {
    return mapErrors(() => this.webhooks.remove(id, actorOf(req)));
  }

  @Post(":id/test")
  @HttpCode(202)
  @ApiOperation({ summary: "Queue a test delivery (type webhook.test) to this destination, whatever its filter (admin)" })
  test(@Param("id") id: string, @Req() req: unknown) {
    return mapErrors(async () => ({ queued: await this.webhooks.sendTest(id, actorOf(req)).then(() => 1) }));
  }

  @Get(":id/deliveries")
  @ApiOperation({ summary: "Recent deliveries of this destination, newest first (admin)" })
  @ApiQuery({ name: "state", required: false, enum: [...DELIVERY_STATES] })
  @ApiQuery({ name: "limit", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } })
  deliveries(@Param("id") id: string, @Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["state", "limit"]);
    return mapErrors(async () => ({ items: (await this.webhooks.listDeliveries(id, optEnum(q, "state", DELIVERY_STATES), optInt(q, "limit", 1, 1000) ?? 100)).map(deliveryView) }));
  }

  @Get(":id/dead-letters")
  @ApiOperation({ summary: "Deliveries that gave up (attempts exhausted or refused by the receiver), newest first (admin)" })
  @ApiQuery({ name: "limit", required: false, schema: { type: "integer", minimum: 1, maximum: 1000, default: 100 } })
  deadLetters(@Param("id") id: string, @Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["limit"]);
    return mapErrors(async () => ({ items: (await this.webhooks.listDeliveries(id, "dead", optInt(q, "limit", 1, 1000) ?? 100)).map(deliveryView) }));
  }

  @Post(":id/dead-letters/retry")
  @HttpCode(202)
  @ApiOperation({ summary: "Queue all dead letters of this destination again, with fresh attempts (admin)" })
  retryAll(@Param("id") id: string, @Req() req: unknown) {
    return mapErrors(async () => ({ requeued: await this.webhooks.retryDead(id, undefined, actorOf(req)) }));
  }

  @Post(":id/dead-letters/:deliveryId/retry")
  @HttpCode(202)
  @ApiOperation({ summary: "Queue one dead letter again, with fresh attempts (admin)" })
  retryOne(@Param("id") id: string, @Param("deliveryId") did: string, @Req() req: unknown) {
    return mapErrors(async () => ({ requeued: await this.webhooks.retryDead(id, deliveryId(did), actorOf(req)) }));
  }
}
