import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { AgentMessage, ControllerMessage, Hello } from "@vigil/proto";
import type { AuditLog } from "../audit/audit-log";
import { AuthError, helloTags, type AgentAuthenticator, type AgentIdentity } from "./authenticator";
import type { AgentCertificates } from "./agent-certificates";
import { peerCertificate, type AuthContextCall } from "./peer-certificate";
import { RefusalThrottle } from "./refusal-throttle";

export interface AuthenticatedPeer {
  agentId: string;
  serial: string;
  notAfter: number;
  tokenId: string;
  tags: string[];
  /** When this certificate was issued: the agent cannot have numbered events before it was enrolled. */
  issuedAt: number;
}

/**
 * Identifies the agent by its TLS client certificate: it must have been
 * issued by this controller (looked up by fingerprint), not be revoked and not
 * be expired. Hello.agent_id is ignored. Every refusal is audited (throttled).
 */
export class MtlsAuthenticator implements AgentAuthenticator {
  private readonly throttle = new RefusalThrottle();

  constructor(
    private readonly certs: AgentCertificates,
    private readonly audit: AuditLog,
    private readonly onAccepted?: (peer: AuthenticatedPeer) => void,
  ) {}

  async authenticate(call: ServerDuplexStream<AgentMessage, ControllerMessage>, hello: Hello): Promise<AgentIdentity> {
    const peer = await this.identify(call, call.getPeer(), "stream");
    this.onAccepted?.(peer);
    // Token tags are the controller's word and the only ones guard rails read; what the agent
    // says about itself (it could say `critical` to dodge isolation) is kept apart.
    return { agentId: peer.agentId, tags: peer.tags, selfReportedTags: helloTags(hello), enrolledAtMs: peer.issuedAt };
  }

  /** Shared with the Renew RPC: the verified certificate's agent, or an AuthError (audited). */
  async identify(call: AuthContextCall, peerAddr: string, via: "stream" | "renew"): Promise<AuthenticatedPeer> {
    const cert = peerCertificate(call);
    if (!cert) {
      await this.refuse(peerAddr, via, "no_certificate", undefined, {});
      throw new AuthError("no client certificate verified by this controller's CA (missing, from another CA, or expired); enroll the agent with `vigil-agent enroll`", "unauthenticated");
    }
    const status = await this.certs.check(cert.fingerprint);
    if (!status.ok) {
      await this.refuse(peerAddr, via, status.reason, status.agentId, { serial: status.serial, fingerprint: cert.fingerprint });
      if (status.reason === "revoked") throw new AuthError(`agent ${status.agentId} has been revoked`, "permission_denied");
      if (status.reason === "unknown") throw new AuthError("client certificate was not issued to an enrolled agent", "unauthenticated");
      throw new AuthError(`client certificate is ${status.reason.replace(/_/g, " ")}; renew or re-enroll`, "unauthenticated");
    }
    if (cert.commonName !== status.agentId) {
      // Cannot happen with certificates we issued; a mismatch means something forged or corrupted.
      await this.refuse(peerAddr, via, "subject_mismatch", status.agentId, { commonName: cert.commonName.slice(0, 128) });
      throw new AuthError("client certificate subject does not match its enrollment record", "unauthenticated");
    }
    return { agentId: status.agentId, serial: status.serial, notAfter: status.notAfter, tokenId: status.tokenId, tags: status.tags, issuedAt: status.issuedAt };
  }

  private async refuse(peerAddr: string, via: string, reason: string, agentId: string | undefined, details: Record<string, unknown>): Promise<void> {
    const host = peerAddr.replace(/:\d+$/, "");
    const folded = this.throttle.admit(`${host}|${reason}|${agentId ?? ""}`);
    if (folded === undefined) return;
    await this.audit
      .append({
        actor: agentId ? `agent:${agentId}` : "unauthenticated",
        action: "agent.refused",
        target: peerAddr,
        details: { reason, via, ...details, ...(folded ? { repeatsFolded: folded } : {}) },
      })
      .catch(() => undefined);
  }
}
