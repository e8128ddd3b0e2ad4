import { BadRequestException, Controller, Get, Inject, NotFoundException, Query } from "@nestjs/common";
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { AgentRegistry } from "../agents/agent-registry";
import { splitClockMark } from "../database/repositories/event-row";
import { EventQueryService, type StoredEvent } from "../ingest/event-query";
import { optSeqList } from "./event-seq-filter";
import { optEnum, optInt, optString, optTime, rejectUnknown } from "./query-params";

export const EVENT_TYPES = ["process", "file", "network", "auth", "agent", "audit", "log", "dns"] as const;
const ALLOWED = ["agent", "type", "since", "until", "q", "seq", "limit", "cursor"] as const;
/** The agent id syntax the transport accepts (controller/src/trust/authenticator.ts). */
const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function encodeCursor(e: { eventTime: number; id: number }): string {
  return Buffer.from(`${e.eventTime}:${e.id}`).toString("base64url");
}

export function decodeCursor(s: string): { eventTime: number; id: number } {
  const m = /^(\d+):(\d+)$/.exec(Buffer.from(s, "base64url").toString("utf8"));
  if (!m) throw new BadRequestException(`query parameter "cursor" is not a cursor returned by this API`);
  return { eventTime: Number(m[1]), id: Number(m[2]) };
}

export function eventView(e: StoredEvent): Record<string, unknown> {
  // A clock mark: the host's time was not trusted; eventTime is the receive time and this is what it said.
  const { body, clock } = splitClockMark(e.data);
  return {
    id: String(e.id),
    agentId: e.agentId,
    seq: e.seq,
    type: e.type,
    action: e.action,
    eventTime: new Date(e.eventTime).toISOString(),
    receivedAt: new Date(e.receivedAt).toISOString(),
    ...clock,
    [e.type]: body,
  };
}

@ApiTags("events")
@Controller("api/v1/events")
export class EventsController {
  constructor(
    @Inject(EventQueryService) private readonly events: EventQueryService,
    @Inject(AgentRegistry) private readonly agents: AgentRegistry,
  ) {}

  @Get()
  @ApiOperation({ summary: "Telemetry events, newest first, with cursor pagination" })
  @ApiQuery({ name: "agent", required: false, description: "agent id (400 if malformed, 404 if no such agent is enrolled)" })
  @ApiQuery({ name: "type", required: false, enum: EVENT_TYPES })
  @ApiQuery({ name: "since", required: false, description: "ISO 8601 or epoch ms (inclusive), by event time" })
  @ApiQuery({ name: "until", required: false, description: "ISO 8601 or epoch ms (exclusive), by event time" })
  @ApiQuery({ name: "q", required: false, description: "case-insensitive substring of exe, command line, path, user, addresses, raw log line" })
  @ApiQuery({ name: "seq", required: false, description: "comma-separated sequence numbers (at most 100; needs agent): the events an alert's eventRefs point at" })
  @ApiQuery({ name: "limit", required: false, description: "1-1000, default 100" })
  @ApiQuery({ name: "cursor", required: false, description: "nextCursor from the previous page" })
  @ApiOkResponse({ description: "{ items: Event[], nextCursor: string | null }" })
  async list(@Query() query: Record<string, unknown>) {
    rejectUnknown(query, ALLOWED);
    const limit = optInt(query, "limit", 1, 1000) ?? 100;
    const since = optTime(query, "since");
    const until = optTime(query, "until");
    if (since !== undefined && until !== undefined && since >= until) throw new BadRequestException(`query parameter "since" must be before "until"`);
    const cursorText = optString(query, "cursor", 128);
    const agentId = optString(query, "agent", 128);
    // An empty page for a typo'd agent id reads as "that host is quiet": say it does not exist instead.
    if (agentId !== undefined) {
      if (!AGENT_ID.test(agentId)) throw new BadRequestException(`query parameter "agent" must be an agent id (1-128 of [A-Za-z0-9._:-]), got "${agentId.slice(0, 64)}"`);
      if (!(await this.agents.get(agentId))) throw new NotFoundException(`agent "${agentId}" not found`);
    }
    const seqs = optSeqList(query, agentId);
    const page = await this.events.page({
      agentId,
      seqs,
      type: optEnum(query, "type", EVENT_TYPES),
      since,
      until,
      q: optString(query, "q", 256),
      limit,
      cursor: cursorText ? decodeCursor(cursorText) : undefined,
    });
    return { items: page.items.map(eventView), nextCursor: page.next ? encodeCursor(page.next) : null };
  }
}
