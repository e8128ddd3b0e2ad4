import { MoreThan, type DataSource, type Repository } from "typeorm";
import { AgentCertificateEntity, AgentRevocationEntity } from "../database/entities";
import type { IssuedCertificate } from "./ca";

export type CertStatus =
  | { ok: true; agentId: string; notAfter: number; serial: string; tokenId: string; tags: string[]; issuedAt: number }
  | { ok: false; reason: "unknown" | "revoked" | "expired" | "not_yet_valid"; agentId?: string; serial?: string };

/**
 * Every client certificate the CA issued, and the agents that were revoked.
 * A certificate is accepted only if it is in here, not revoked (itself or its
 * agent) and within its validity.
 */
export class AgentCertificates {
  private readonly certs: Repository<AgentCertificateEntity>;
  private readonly revocations: Repository<AgentRevocationEntity>;

  constructor(
    ds: DataSource,
    private readonly now: () => number = Date.now,
  ) {
    this.certs = ds.getRepository(AgentCertificateEntity);
    this.revocations = ds.getRepository(AgentRevocationEntity);
  }

  async record(agentId: string, c: IssuedCertificate, origin: { tokenId: string; tags: string[] }): Promise<void> {
    await this.certs.insert({
      serial: c.serial,
      agentId,
      fingerprint: c.fingerprint,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      issuedAt: this.now(),
      tokenId: origin.tokenId,
      tags: origin.tags,
      revokedAt: 0,
    });
  }

  async check(fingerprint: string): Promise<CertStatus> {
    const row = await this.certs.findOneBy({ fingerprint });
    if (!row) return { ok: false, reason: "unknown" };
    const base = { agentId: row.agentId, serial: row.serial };
    if (row.revokedAt || (await this.isRevoked(row.agentId))) return { ok: false, reason: "revoked", ...base };
    const now = this.now();
    if (now >= row.notAfter) return { ok: false, reason: "expired", ...base };
    if (now < row.notBefore) return { ok: false, reason: "not_yet_valid", ...base };
    return { ok: true, agentId: row.agentId, notAfter: row.notAfter, serial: row.serial, tokenId: row.tokenId, tags: row.tags, issuedAt: row.issuedAt };
  }

  async isRevoked(agentId: string): Promise<boolean> {
    return (await this.revocations.countBy({ agentId })) > 0;
  }

  /** Revokes the agent and every certificate it holds. False if it was already revoked. */
  async revoke(agentId: string, by: string, reason: string): Promise<{ revoked: boolean; certificates: number }> {
    const now = this.now();
    const already = await this.isRevoked(agentId);
    if (!already) await this.revocations.insert({ agentId, revokedAt: now, revokedBy: by.slice(0, 160), reason: reason.slice(0, 512) });
    const res = await this.certs.update({ agentId, revokedAt: 0 }, { revokedAt: now });
    return { revoked: !already, certificates: res.affected ?? 0 };
  }

  /** Agents revoked after `since` (ms): what the running controller polls for. */
  async revokedSince(since: number): Promise<Array<{ agentId: string; revokedAt: number }>> {
    const rows = await this.revocations.find({ where: { revokedAt: MoreThan(since) }, order: { revokedAt: "ASC" }, take: 1000 });
    return rows.map((r) => ({ agentId: r.agentId, revokedAt: r.revokedAt }));
  }

  async knownAgent(agentId: string): Promise<boolean> {
    return (await this.certs.countBy({ agentId })) > 0;
  }
}
