import { BadRequestException, Controller, Get, Inject, Query, Res } from "@nestjs/common";
import { ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { optInt, optString, optTime, rejectUnknown } from "./query-params";
import { Roles } from "../http/roles";
import { AuditLog, auditView } from "../audit/audit-log";

const ALLOWED = ["action", "actor", "since", "until", "limit", "cursor"] as const;

interface StreamRes {
  setHeader(name: string, value: string): void;
  write(chunk: string): boolean;
  once(event: "drain", cb: () => void): void;
  end(): void;
}

/** Analysts and auditors (readonly) read the trail; integrations do not. */
@ApiTags("audit")
@Roles("analyst", "readonly")
@Controller("api/v1/audit")
export class AuditController {
  constructor(@Inject(AuditLog) private readonly audit: AuditLog) {}

  @Get()
  @ApiOperation({ summary: "Audit records, newest first, with cursor pagination" })
  @ApiQuery({ name: "action", required: false })
  @ApiQuery({ name: "actor", required: false, description: "e.g. apikey:<id>, cli, agent:<id>, system" })
  @ApiQuery({ name: "since", required: false, description: "ISO 8601 or epoch ms (inclusive)" })
  @ApiQuery({ name: "until", required: false, description: "ISO 8601 or epoch ms (exclusive)" })
  @ApiQuery({ name: "limit", required: false, description: "1-1000, default 100" })
  @ApiQuery({ name: "cursor", required: false, description: "nextCursor from the previous page" })
  async list(@Query() query: Record<string, unknown>) {
    rejectUnknown(query, ALLOWED);
    const limit = optInt(query, "limit", 1, 1000) ?? 100;
    const cursor = optString(query, "cursor", 32);
    if (cursor !== undefined && !/^\d{1,15}$/.test(cursor)) throw new BadRequestException(`query parameter "cursor" is not a cursor returned by this API`);
    const since = optTime(query, "since");
    const until = optTime(query, "until");
    if (since !== undefined && until !== undefined && since >= until) throw new BadRequestException(`query parameter "since" must be before "until"`);
    const items = await this.audit.query({ action: optString(query, "action", 64), actor: optString(query, "actor", 160), since, until, limit, beforeSeq: cursor ? Number(cursor) : undefined });
    const last = items.at(-1);
    return { items: items.map(auditView), nextCursor: items.length === limit && last ? String(last.seq) : null };
  }

  @Get("verify")
  @ApiOperation({ summary: "Recompute the hash chain; reports the first broken link (edited or removed record)" })
  async verify() {
    return this.audit.verify();
  }

  @Get("export")
  @ApiOperation({ summary: "Every record in chain order as JSON lines (application/x-ndjson)" })
  async export(@Res() res: StreamRes) {
    res.setHeader("content-type", "application/x-ndjson");
    for await (const r of this.audit.scan()) {
      // Respect the client's pace: a slow reader must not make us buffer the whole trail.
      if (!res.write(JSON.stringify(auditView(r)) + "\n")) await new Promise<void>((resolve) => res.once("drain", resolve));
    }
    res.end();
  }
}
