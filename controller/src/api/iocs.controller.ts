import { BadRequestException, Controller, Delete, Get, Inject, NotFoundException, Param, Post, Query, Req } from "@nestjs/common";
import { ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { Roles } from "../http/roles";
import { IocCatalog, NotABundle } from "../detection/ioc-catalog";
import { optEnum, optInt, optString, rejectUnknown } from "./query-params";
import { contentType, readText } from "./text-body";

const KINDS = ["ip", "cidr", "domain", "sha256"] as const;
const MAX_IMPORT_BYTES = 20 * 1024 * 1024;
const BUNDLE_EXPECTED = `a JSON import must be a STIX 2.1 bundle ({"type": "bundle", "objects": [...]}); for a plain list use POST /api/v1/iocs`;

@ApiTags("iocs")
@Controller("api/v1/iocs")
export class IocsController {
  constructor(@Inject(IocCatalog) private readonly iocs: IocCatalog) {}

  @Get()
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "IOCs, oldest first, paged by id" })
  @ApiQuery({ name: "kind", required: false, enum: KINDS })
  @ApiQuery({ name: "source", required: false })
  @ApiQuery({ name: "limit", required: false, description: "1-1000, default 100" })
  @ApiQuery({ name: "cursor", required: false, description: "nextCursor from the previous page" })
  async list(@Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["kind", "source", "limit", "cursor"]);
    const limit = optInt(q, "limit", 1, 1000) ?? 100;
    const cursor = optString(q, "cursor", 32);
    if (cursor !== undefined && !/^\d+$/.test(cursor)) throw new BadRequestException(`query parameter "cursor" is not a cursor returned by this API`);
    const items = await this.iocs.list({ kind: optEnum(q, "kind", KINDS), source: optString(q, "source", 255), limit, afterId: cursor ? Number(cursor) : undefined });
    return { items, nextCursor: items.length === limit ? items.at(-1)!.id : null };
  }

  @Post()
  @Roles("integration")
  @ApiOperation({ summary: "Add IOCs: JSON list [{type, value, confidence?, source?, description?, expiresAt?, tags?}]" })
  @ApiQuery({ name: "source", required: false, description: "default source for items without one" })
  @ApiBody({ schema: { type: "array", items: { type: "object", required: ["type", "value"] } } })
  async add(@Req() req: Parameters<typeof readText>[0], @Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["source"]);
    const body = req.body;
    const items = Array.isArray(body) ? body : Array.isArray((body as { items?: unknown })?.items) ? (body as { items: unknown[] }).items : undefined;
    if (!items) throw new BadRequestException("body must be a JSON list of IOCs (or {items: [...]}); for CSV or STIX use POST /api/v1/iocs/import");
    return this.iocs.importJson(items, optString(q, "source", 255));
  }

  @Post("import")
  @Roles("integration")
  @ApiOperation({
    summary:
      "Import a CSV or plain list (text/csv, text/plain) or a STIX 2.1 bundle (application/json or application/stix+json with type: bundle); returns counts, per-line / per-indicator errors and refused lines by unsupported kind",
  })
  @ApiConsumes("text/csv", "text/plain", "application/json", "application/stix+json")
  @ApiQuery({ name: "source", required: false, description: "source name for indicators that carry none (default: csv / stix)" })
  @ApiQuery({
    name: "format",
    required: false,
    enum: ["auto", "csv", "list"],
    description: "how to read a text body (default auto: a header row, a feed's header in its last '#' line, or one indicator per line)",
  })
  @ApiBody({
    description:
      "CSV with a header row (type,value[,confidence,source,description,expires,tags], or a feed's own columns such as abuse.ch exports), a plain list (one IP, CIDR, domain or sha256 per line; '#'/';' comments), or a STIX 2.1 bundle",
    schema: { type: "string" },
  })
  async import(@Req() req: Parameters<typeof readText>[0], @Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["source", "format"]);
    const source = optString(q, "source", 255);
    const format = optString(q, "format", 8) ?? "auto";
    if (format !== "auto" && format !== "csv" && format !== "list") throw new BadRequestException(`format must be auto, csv or list, got "${format}"`);
    const type = contentType(req);
    if (type === "application/json") {
      // Left unparsed by jsonBodyParser (OWN_JSON_ROUTES): read here and parsed object by object.
      const b = req.body as { type?: unknown } | undefined;
      if (b && typeof b === "object" && Object.keys(b).length > 0) {
        if (b.type !== "bundle") throw new BadRequestException(BUNDLE_EXPECTED);
        return this.iocs.importStix(b, source);
      }
      const text = await readText(req, MAX_IMPORT_BYTES);
      if (!/^\s*\{/.test(text)) throw new BadRequestException(BUNDLE_EXPECTED);
      try {
        return await this.iocs.importStix(text, source, true);
      } catch (err) {
        if (err instanceof NotABundle) throw new BadRequestException(`${err.message}; ${BUNDLE_EXPECTED}`);
        throw err;
      }
    }
    if (type === "application/stix+json") return this.iocs.importStix(await readText(req, MAX_IMPORT_BYTES), source);
    if (type === "text/csv" || type === "text/plain") return this.iocs.importCsv(await readText(req, MAX_IMPORT_BYTES), source, format);
    throw new BadRequestException(`content-type "${type || "(none)"}" is not importable: use text/csv, application/json or application/stix+json`);
  }

  @Delete(":id")
  @Roles("integration")
  @ApiOperation({ summary: "Delete one IOC" })
  async remove(@Param("id") id: string) {
    if (!/^\d+$/.test(id)) throw new BadRequestException(`IOC id must be a number, got "${id}"`);
    if (!(await this.iocs.remove(Number(id)))) throw new NotFoundException(`no IOC with id ${id}`);
    return { deleted: id };
  }

  @Delete()
  @Roles("integration")
  @ApiOperation({ summary: "Delete every IOC of one source (a feed)" })
  @ApiQuery({ name: "source", required: true })
  async removeSource(@Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["source"]);
    const source = optString(q, "source", 255);
    if (!source) throw new BadRequestException(`query parameter "source" is required`);
    return { deleted: await this.iocs.removeSource(source) };
  }
}
