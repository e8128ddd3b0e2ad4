import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Inject, NotFoundException, Param, Patch, Post, Query, Req } from "@nestjs/common";
import { ApiBody, ApiConsumes, ApiOperation, ApiQuery, ApiTags } from "@nestjs/swagger";
import { createHash } from "node:crypto";
import { noteAudit } from "../audit/request-audit";
import { actorOf, Roles } from "../http/roles";
import { DetectionPipeline } from "../detection/pipeline";
import { RuleCatalog, RuleUploadError } from "../detection/rule-catalog";
import { optEnum, optString, rejectUnknown } from "./query-params";
import { contentType, readText } from "./text-body";

const MAX_RULE_BYTES = 1024 * 1024;

@ApiTags("rules")
@Controller("api/v1/rules")
export class RulesController {
  constructor(
    @Inject(RuleCatalog) private readonly rules: RuleCatalog,
    @Inject(DetectionPipeline) private readonly pipeline: DetectionPipeline,
  ) {}

  @Get()
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Rules in force (built-in, SigmaHQ pack, uploaded) with their source, enabled state and whether they alert" })
  @ApiQuery({ name: "origin", required: false, enum: ["builtin", "sigmahq", "uploaded"] })
  @ApiQuery({ name: "kind", required: false, enum: ["detection", "correlation"] })
  list(@Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["origin", "kind"]);
    const origin = optEnum(q, "origin", ["builtin", "sigmahq", "uploaded"] as const);
    const kind = optEnum(q, "kind", ["detection", "correlation"] as const);
    return { items: this.rules.list().filter((r) => (!origin || r.origin === origin) && (!kind || r.kind === kind)) };
  }

  @Get("stats")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "Detection pipeline counters: queue depth and peak, backpressure waits, events, matches" })
  stats() {
    return this.pipeline.stats;
  }

  @Get(":id")
  @Roles("readonly", "analyst", "integration")
  @ApiOperation({ summary: "One rule" })
  get(@Param("id") id: string) {
    const r = this.rules.get(id);
    if (!r) throw new NotFoundException(`no rule with id '${id}'`);
    return r;
  }

  // Admin only (the guard's default for writes).
  @Post()
  @ApiOperation({ summary: "Upload Sigma YAML (one file, several documents allowed); 400 names rule, line and feature" })
  @ApiConsumes("text/yaml", "application/yaml", "text/plain", "application/json")
  @ApiQuery({ name: "name", required: false, description: "file name to store it under; an upload with the same name replaces that file" })
  @ApiBody({
    description: "Sigma YAML as the body, or JSON {yaml, name?}",
    required: true,
    schema: { oneOf: [{ type: "string" }, { type: "object", properties: { yaml: { type: "string" }, name: { type: "string" } }, required: ["yaml"] }] },
  })
  async upload(@Req() req: Parameters<typeof readText>[0], @Query() q: Record<string, unknown>) {
    rejectUnknown(q, ["name"]);
    let yaml: string;
    let name = optString(q, "name", 255);
    if (contentType(req) === "application/json") {
      const b = req.body as Record<string, unknown> | undefined;
      if (!b || typeof b.yaml !== "string") throw new BadRequestException(`body field "yaml" must be a string of Sigma YAML`);
      if (b.name !== undefined && (typeof b.name !== "string" || b.name === "" || b.name.length > 255)) throw new BadRequestException(`body field "name" must be a string of 1-255 characters`);
      yaml = b.yaml;
      name = (b.name as string | undefined) ?? name;
    } else yaml = await readText(req, MAX_RULE_BYTES);
    // The trail says exactly which text was installed: its hash and size (the rule ids come from the response).
    noteAudit({ sha256: createHash("sha256").update(yaml, "utf8").digest("hex"), bytes: Buffer.byteLength(yaml, "utf8"), file: name ?? null });
    try {
      return { rules: await this.rules.upload(yaml, name, actorOf(req)) };
    } catch (e) {
      if (e instanceof RuleUploadError) throw new BadRequestException({ statusCode: 400, error: "Bad Request", message: e.message, errors: e.errors });
      throw e;
    }
  }

  @Patch(":id")
  @ApiOperation({ summary: "Enable or disable a rule: {enabled: boolean}" })
  @ApiBody({ schema: { type: "object", properties: { enabled: { type: "boolean" } }, required: ["enabled"] } })
  async patch(@Param("id") id: string, @Body() body: unknown, @Req() req: unknown) {
    const b = body as Record<string, unknown> | undefined;
    if (!b || typeof b.enabled !== "boolean") throw new BadRequestException(`body field "enabled" must be true or false`);
    return this.switch(id, b.enabled, req);
  }

  @Post(":id/enable")
  @HttpCode(200)
  @ApiOperation({ summary: "Enable a rule" })
  enable(@Param("id") id: string, @Req() req: unknown) {
    return this.switch(id, true, req);
  }

  @Post(":id/disable")
  @HttpCode(200)
  @ApiOperation({ summary: "Disable a rule (it neither alerts nor feeds correlations)" })
  disable(@Param("id") id: string, @Req() req: unknown) {
    return this.switch(id, false, req);
  }

  @Delete(":id")
  @ApiOperation({ summary: "Delete the uploaded file holding this rule (with its other documents); built-ins can only be disabled" })
  async remove(@Param("id") id: string) {
    const r = this.rules.get(id);
    if (!r) throw new NotFoundException(`no rule with id '${id}'`);
    if (r.origin === "builtin") throw new BadRequestException(`rule '${id}' is built in; disable it instead`);
    return { deleted: await this.rules.remove(id) };
  }

  private async switch(id: string, enabled: boolean, req: unknown) {
    const r = await this.rules.setEnabled(id, enabled, actorOf(req));
    if (!r) throw new NotFoundException(`no rule with id '${id}'`);
    return r;
  }
}
