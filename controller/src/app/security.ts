import { Reflector } from "@nestjs/core";
import type { INestApplication, Provider } from "@nestjs/common";
import type { DocumentBuilder } from "@nestjs/swagger";
import { ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { DataSource } from "typeorm";
import type { AgentRegistry } from "../agents/agent-registry";
import { AuditLog } from "../audit/audit-log";
import { openAuditLog } from "../audit/open-audit-log";
import type { ControllerConfig } from "../config/config";
import { AuditRepository } from "../database/repositories/audit-repository";
import { ApiKeyRepository } from "../database/repositories/api-key-repository";
import { CertificateRepository } from "../database/repositories/certificate-repository";
import { EnrollmentTokenRepository } from "../database/repositories/enrollment-token-repository";
import { AgentCertificates } from "../trust/agent-certificates";
import { CertificateAuthority } from "../trust/ca";
import { EnrollmentTokens } from "../trust/enrollment-tokens";
import { RevocationWatcher } from "../trust/revocation-watcher";
import { createTrust, type Trust } from "../trust/trust";
import { HelloAuthenticator, type AgentAuthenticator } from "../trust/authenticator";
import type { RouteInfo } from "../http/route-table";
import { ApiKeyGuard } from "../auth/api-key.guard";
import { apiKeyMiddleware } from "../auth/api-key.middleware";
import { KeyCheck } from "../auth/key-check";
import { ApiKeys } from "../auth/api-keys";
import { RateLimiter } from "../auth/rate-limiter";

export interface Security {
  audit: AuditLog;
  trust: Trust;
  apiKeys: ApiKeys;
  /** What the agent gRPC server needs: who an agent is, TLS, and the enrollment service. */
  grpc: { authenticator: AgentAuthenticator; credentials: () => ServerCredentials; extraServices: Array<{ service: ServiceDefinition; implementation: UntypedServiceImplementation }> };
  providers: Provider[];
  /** The API key check (failure limits before scrypt), shared by the HTTP middleware, the guard and the stream. */
  keyCheck: KeyCheck;
  /** Express middleware that authenticates a request before its body is read. */
  authenticate(routes: () => readonly RouteInfo[]): ReturnType<typeof apiKeyMiddleware>;
  /** Installs the API key guard (roles, per-key rate) on the Nest app. */
  guard(app: INestApplication): void;
  /** Adds the security schemes to the OpenAPI document. */
  document(b: DocumentBuilder): DocumentBuilder;
  stop(): void;
}

/**
 * The trust layer (audit/, trust/, auth/), composed in one place so bootstrap only plugs it in:
 * audit trail, CA + mTLS + enrollment for agents, API keys with roles and rate limits for HTTP.
 */
export async function createTrustLayer(
  config: ControllerConfig,
  ds: DataSource,
  registry: AgentRegistry,
  commandPublicKey: () => Buffer,
  logger: Logger,
  authenticator?: AgentAuthenticator,
): Promise<Security> {
  const audit = openAuditLog(AuditRepository.of(ds), config, {
    log: (cp) => logger.info({ auditCheckpoint: { seq: cp.seq, hash: cp.hash, keyedFrom: cp.keyedFrom } }, "audit checkpoint"),
    onBroken: (reason) => logger.error({ auditChain: "broken" }, reason),
  });
  audit.startCheckpoints(60_000);
  const log = (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => logger[level](fields ?? {}, msg);
  const trust = await createTrust(
    { caDir: config.caDir, tlsNames: config.tlsNames, clientCertValidityMs: config.agentCertTtlMs, revocationPollMs: config.revocationPollMs },
    { certificates: CertificateRepository.of(ds), enrollmentTokens: EnrollmentTokenRepository.of(ds) },
    audit,
    registry,
    commandPublicKey,
    log,
  );
  const apiKeys = new ApiKeys(ApiKeyRepository.of(ds));
  let grpc: Security["grpc"];
  if (config.insecureGrpc) {
    logger.warn(
      "INSECURE gRPC: agents connect in plaintext and are trusted by the id they claim (VIGIL_INSECURE_GRPC / --insecure-grpc). " +
        "Anyone who can reach the gRPC port can impersonate any agent. Development only.",
    );
    grpc = { authenticator: authenticator ?? new HelloAuthenticator(), credentials: () => ServerCredentials.createInsecure(), extraServices: [] };
  } else {
    grpc = {
      authenticator: authenticator ?? trust.authenticator,
      credentials: () => trust.tls.credentials(),
      extraServices: [{ service: trust.enrollment.service, implementation: trust.enrollment.implementation }],
    };
  }
  const perKey = new RateLimiter(config.apiRate.perSecond, config.apiRate.burst);
  // Failed key checks: a burst (20) then a rate (5/s) per client address, and the same per key id, charged before scrypt.
  const fail = config.authFailRate;
  const keyCheck = new KeyCheck(apiKeys, new RateLimiter(fail.perSecond, fail.burst), new RateLimiter(fail.perSecond, fail.burst));
  return {
    audit,
    trust,
    apiKeys,
    grpc,
    keyCheck,
    providers: [
      { provide: AuditLog, useValue: audit },
      { provide: ApiKeys, useValue: apiKeys },
      { provide: EnrollmentTokens, useValue: trust.tokens },
      { provide: AgentCertificates, useValue: trust.certs },
      { provide: CertificateAuthority, useValue: trust.ca },
      { provide: RevocationWatcher, useValue: trust.watcher },
    ],
    authenticate(routes) {
      return apiKeyMiddleware(keyCheck, routes);
    },
    guard(app) {
      app.useGlobalGuards(new ApiKeyGuard(new Reflector(), keyCheck, perKey));
    },
    document(b) {
      return (
        b
          // An opaque API key, not a JWT: the id finds the key's row, the secret is checked against its scrypt hash.
          .addBearerAuth(
            {
              type: "http",
              scheme: "bearer",
              bearerFormat: "vk_<id>_<secret>",
              description:
                "API key `vk_<id>_<secret>` (`vigil-controller apikey create`, or POST /api/v1/apikeys): an opaque key whose role (admin, analyst, integration, readonly) decides what it may do; not a JWT. Repeated failures from one address answer 429.",
            },
            "bearer",
          )
          .addApiKey({ type: "apiKey", in: "header", name: "X-Api-Key", description: "The same API key in the X-Api-Key header, for clients that cannot set Authorization" }, "api-key")
          .addSecurityRequirements("bearer")
          .addSecurityRequirements("api-key")
      );
    },
    stop() {
      trust.stop();
      void audit.stop();
    },
  };
}
