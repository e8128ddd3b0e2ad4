import { randomUUID, type webcrypto as WebCrypto } from "node:crypto";
import { status as GrpcStatus, type sendUnaryData, type ServerUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { EnrollmentServiceService, type Credentials, type EnrollRequest, type EnrollResponse, type RenewRequest, type RenewResponse } from "@vigil/proto";
import type { AuditLog } from "../audit/audit-log";
import { AuthError } from "./authenticator";
import type { AgentCertificates } from "./agent-certificates";
import { CsrRejected, type CertificateAuthority, type IssuedCertificate } from "./ca";
import { TokenRejected, type EnrollmentTokens } from "./enrollment-tokens";
import type { MtlsAuthenticator } from "./mtls-authenticator";
import { RefusalThrottle } from "./refusal-throttle";

export interface EnrollmentDeps {
  ca: CertificateAuthority;
  tokens: EnrollmentTokens;
  certs: AgentCertificates;
  audit: AuditLog;
  authenticator: MtlsAuthenticator;
  commandPublicKey: () => Buffer;
  clientCertValidityMs: number;
  log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

function fail(code: GrpcStatus, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: undefined as never });
}

/**
 * Enroll (token + CSR → client certificate) and Renew (current certificate +
 * new CSR → fresh certificate). The CSR is checked before the token is spent,
 * so a broken request does not burn one of the token's uses.
 */
export class EnrollmentHandlers {
  private readonly throttle = new RefusalThrottle();

  constructor(private readonly d: EnrollmentDeps) {}

  get service() {
    return EnrollmentServiceService;
  }

  get implementation() {
    return {
      enroll: (call: ServerUnaryCall<EnrollRequest, EnrollResponse>, cb: sendUnaryData<EnrollResponse>) =>
        void this.enroll(call).then(
          (r) => cb(null, r),
          (e: ServiceError) => cb(e),
        ),
      renew: (call: ServerUnaryCall<RenewRequest, RenewResponse>, cb: sendUnaryData<RenewResponse>) =>
        void this.renew(call).then(
          (r) => cb(null, r),
          (e: ServiceError) => cb(e),
        ),
    };
  }

  private async enroll(call: ServerUnaryCall<EnrollRequest, EnrollResponse>): Promise<EnrollResponse> {
    const req = call.request;
    const peer = call.getPeer();
    const hostname = (req.hostname ?? "").slice(0, 255);
    let publicKey;
    try {
      publicKey = await this.d.ca.readCsr(req.csrDer);
    } catch (err) {
      if (err instanceof CsrRejected) throw fail(GrpcStatus.INVALID_ARGUMENT, err.message);
      throw err;
    }
    let token: { tokenId: string; tags: string[] };
    try {
      token = await this.d.tokens.consume(req.token);
    } catch (err) {
      if (!(err instanceof TokenRejected)) throw this.internal("enroll", err);
      const folded = this.throttle.admit(`${peer.replace(/:\d+$/, "")}|${err.tokenId ?? ""}|${err.message}`);
      if (folded !== undefined) {
        await this.d.audit
          .append({
            actor: "unauthenticated",
            action: "agent.enroll_refused",
            target: peer,
            details: { reason: err.message, tokenId: err.tokenId, hostname, ...(folded ? { repeatsFolded: folded } : {}) },
          })
          .catch(() => undefined);
      }
      throw fail(GrpcStatus.UNAUTHENTICATED, err.message);
    }
    const agentId = randomUUID();
    const issued = await this.issueAndRecord(publicKey, agentId, token);
    await this.d.audit.append({
      actor: `token:${token.tokenId}`,
      action: "agent.enrolled",
      target: `agent:${agentId}`,
      details: { hostname, peer, serial: issued.serial, notAfter: new Date(issued.notAfter).toISOString(), tags: token.tags },
    });
    this.d.log("info", "agent enrolled", { agentId, hostname, peer, tokenId: token.tokenId });
    return { credentials: this.credentials(agentId, issued, token.tags) };
  }

  private async renew(call: ServerUnaryCall<RenewRequest, RenewResponse>): Promise<RenewResponse> {
    let who;
    try {
      who = await this.d.authenticator.identify(call, call.getPeer(), "renew");
    } catch (err) {
      if (err instanceof AuthError) throw fail(err.code === "permission_denied" ? GrpcStatus.PERMISSION_DENIED : GrpcStatus.UNAUTHENTICATED, err.message);
      throw this.internal("renew", err);
    }
    let publicKey;
    try {
      publicKey = await this.d.ca.readCsr(call.request.csrDer);
    } catch (err) {
      if (err instanceof CsrRejected) throw fail(GrpcStatus.INVALID_ARGUMENT, err.message);
      throw err;
    }
    const issued = await this.issueAndRecord(publicKey, who.agentId, { tokenId: who.tokenId, tags: who.tags });
    await this.d.audit.append({
      actor: `agent:${who.agentId}`,
      action: "agent.certificate_renewed",
      target: `agent:${who.agentId}`,
      details: { previousSerial: who.serial, serial: issued.serial, notAfter: new Date(issued.notAfter).toISOString() },
    });
    this.d.log("info", "agent certificate renewed", { agentId: who.agentId, notAfter: new Date(issued.notAfter).toISOString() });
    return { credentials: this.credentials(who.agentId, issued, who.tags) };
  }

  private async issueAndRecord(publicKey: WebCrypto.CryptoKey, agentId: string, origin: { tokenId: string; tags: string[] }): Promise<IssuedCertificate> {
    try {
      const issued = await this.d.ca.issueAgent(publicKey, agentId, this.d.clientCertValidityMs);
      await this.d.certs.record(agentId, issued, origin);
      return issued;
    } catch (err) {
      throw this.internal("issue", err);
    }
  }

  private credentials(agentId: string, c: IssuedCertificate, tags: string[]): Credentials {
    return { agentId, certificatePem: c.pem, caCertificatePem: this.d.ca.certPem, commandPublicKey: this.d.commandPublicKey(), notBeforeMs: c.notBefore, notAfterMs: c.notAfter, tags };
  }

  private internal(what: string, err: unknown): ServiceError {
    if ((err as ServiceError).code !== undefined && (err as ServiceError).details !== undefined) return err as ServiceError;
    this.d.log("error", `enrollment ${what} failed`, { error: String(err) });
    return fail(GrpcStatus.UNAVAILABLE, "the controller could not complete the request; retry");
  }
}
