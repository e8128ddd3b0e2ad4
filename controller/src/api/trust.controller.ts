import { BadRequestException, Body, Controller, Get, HttpCode, Inject, NotFoundException, Param, Post, Req } from "@nestjs/common";
import { ApiBody, ApiOperation, ApiTags } from "@nestjs/swagger";
import { AuditLog } from "../audit/audit-log";
import { bodyObject, fieldInt, fieldString, fieldStrings } from "../auth/body";
import { actorOf, Roles } from "../http/roles";
import { parseDuration } from "../config/duration";
import { ConfigError } from "../config/config-error";
import { AgentCertificates } from "../trust/agent-certificates";
import { CertificateAuthority } from "../trust/ca";
import { EnrollmentTokens } from "../trust/enrollment-tokens";
import { RevocationWatcher } from "../trust/revocation-watcher";
import { revokeAgent } from "../trust/revoke";

@ApiTags("admin")
@Controller("api/v1")
export class TrustController {
  constructor(
    @Inject(EnrollmentTokens) private readonly tokens: EnrollmentTokens,
    @Inject(AgentCertificates) private readonly certs: AgentCertificates,
    @Inject(CertificateAuthority) private readonly ca: CertificateAuthority,
    @Inject(RevocationWatcher) private readonly watcher: RevocationWatcher,
    @Inject(AuditLog) private readonly audit: AuditLog,
  ) {}

  @Post("enrollment-tokens")
  @ApiOperation({ summary: "Create an enrollment token (admin). The token is in this response only." })
  @ApiBody({ schema: { type: "object", properties: { ttl: { type: "string", example: "24h" }, uses: { type: "integer", minimum: 1 }, tags: { type: "array", items: { type: "string" } } } } })
  async createToken(@Body() body: unknown, @Req() req: unknown) {
    const b = bodyObject(body, ["ttl", "uses", "tags"]);
    let ttlMs: number;
    try {
      ttlMs = parseDuration(fieldString(b, "ttl", 32) ?? "24h", "ttl");
    } catch (err) {
      if (err instanceof ConfigError) throw new BadRequestException(`field ${err.message}`);
      throw err;
    }
    const spec = { ttlMs, uses: fieldInt(b, "uses", 1, 100_000) ?? 1, tags: fieldStrings(b, "tags", 32, 64) ?? [], createdBy: actorOf(req) };
    let created;
    try {
      created = await this.tokens.create(spec);
    } catch (err) {
      if (err instanceof RangeError) throw new BadRequestException(err.message);
      throw err;
    }
    await this.audit.append({ actor: actorOf(req), action: "token.created", target: `token:${created.view.id}`, details: { uses: spec.uses, tags: spec.tags, expiresAt: created.view.expiresAt } });
    return { ...created.view, token: created.token, caFingerprint: this.ca.fingerprint };
  }

  @Get("enrollment-tokens")
  @Roles()
  @ApiOperation({ summary: "Enrollment tokens (admin); never the tokens themselves" })
  async listTokens() {
    return { items: await this.tokens.list() };
  }

  @Post("agents/:id/revoke")
  @HttpCode(200)
  @ApiOperation({ summary: "Revoke an agent (admin): its certificates stop working and its open stream is closed" })
  @ApiBody({ required: false, schema: { type: "object", properties: { reason: { type: "string", maxLength: 512 } } } })
  async revoke(@Param("id") id: string, @Body() body: unknown, @Req() req: unknown) {
    const reason = fieldString(bodyObject(body, ["reason"]), "reason", 512) ?? "";
    if (!(await this.certs.knownAgent(id))) throw new NotFoundException(`no enrolled agent "${id.slice(0, 128)}"`);
    const result = await revokeAgent(this.certs, this.audit, id, actorOf(req), reason);
    await this.watcher.poll();
    return { agentId: id, ...result };
  }

  @Get("trust/ca")
  @ApiOperation({ summary: "The controller CA certificate and the fingerprint agents pin (--ca-pin)" })
  caCertificate() {
    return { fingerprint: this.ca.fingerprint, certificatePem: this.ca.certPem, notAfter: this.ca.cert.notAfter.toISOString() };
  }
}
