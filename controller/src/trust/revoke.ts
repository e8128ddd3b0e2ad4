import type { AuditLog } from "../audit/audit-log";
import type { AgentCertificates } from "./agent-certificates";

/** Shared by the CLI and the API so both record the same thing. */
export async function revokeAgent(certs: AgentCertificates, audit: AuditLog, agentId: string, actor: string, reason: string): Promise<{ revoked: boolean; certificates: number }> {
  const r = await certs.revoke(agentId, actor, reason);
  await audit.append({ actor, action: "agent.revoked", target: `agent:${agentId}`, details: { reason, certificates: r.certificates, alreadyRevoked: !r.revoked } });
  return r;
}
