import { Coalescer } from "../database/coalescer";
import type { AgentCertificateEntity } from "../database/entities";
import type { CertificateRepository } from "../database/repositories/certificate-repository";
import type { IssuedCertificate } from "./ca";

/** Keys per IN (…) list: well under SQLite's bound on parameters. */
const LOOKUPS_PER_QUERY = 500;

export type CertStatus =
  | { ok: true; agentId: string; notAfter: number; serial: string; tokenId: string; tags: string[]; issuedAt: number }
  | { ok: false; reason: "unknown" | "revoked" | "expired" | "not_yet_valid"; agentId?: string; serial?: string };

/**
 * Every client certificate the CA issued, and the agents that were revoked.
 * A certificate is accepted only if it is in here, not revoked (itself or its
 * agent) and within its validity.
 */
export class AgentCertificates {
  /** A fleet's handshakes together look their certificates up in one query per batch (see Coalescer). */
  private readonly byFingerprint: Coalescer<string, AgentCertificateEntity | undefined>;
  private readonly revoked: Coalescer<string, boolean>;

  constructor(
    private readonly certs: CertificateRepository,
    private readonly now: () => number = Date.now,
  ) {
    this.byFingerprint = new Coalescer({
      maxItems: LOOKUPS_PER_QUERY,
      runMany: async (fps) => {
        const rows = new Map((await certs.byFingerprints(fps)).map((r) => [r.fingerprint, r]));
        return fps.map((fp) => rows.get(fp));
      },
    });
    this.revoked = new Coalescer({
      maxItems: LOOKUPS_PER_QUERY,
      runMany: async (ids) => {
        const revoked = await certs.revokedAmong(ids);
        return ids.map((id) => revoked.has(id));
      },
    });
  }

  async record(agentId: string, c: IssuedCertificate, origin: { tokenId: string; tags: string[] }): Promise<void> {
    await this.certs.issue({
      serial: c.serial,
      agentId,
      fingerprint: c.fingerprint,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      issuedAt: this.now(),
      tokenId: origin.tokenId,
      tags: origin.tags,
    });
  }

  async check(fingerprint: string): Promise<CertStatus> {
    const row = await this.byFingerprint.submit(fingerprint);
    if (!row) return { ok: false, reason: "unknown" };
    const base = { agentId: row.agentId, serial: row.serial };
    if (row.revokedAt || (await this.revoked.submit(row.agentId))) return { ok: false, reason: "revoked", ...base };
    const now = this.now();
    if (now >= row.notAfter) return { ok: false, reason: "expired", ...base };
    if (now < row.notBefore) return { ok: false, reason: "not_yet_valid", ...base };
    return { ok: true, agentId: row.agentId, notAfter: row.notAfter, serial: row.serial, tokenId: row.tokenId, tags: row.tags, issuedAt: row.issuedAt };
  }

  /** Revokes the agent and every certificate it holds. False if it was already revoked. */
  revoke(agentId: string, by: string, reason: string): Promise<{ revoked: boolean; certificates: number }> {
    return this.certs.revoke(agentId, this.now(), by.slice(0, 160), reason.slice(0, 512));
  }

  /** Agents revoked after `since` (ms): what the running controller polls for. */
  revokedSince(since: number): Promise<Array<{ agentId: string; revokedAt: number }>> {
    return this.certs.revokedSince(since, 1000);
  }

  async knownAgent(agentId: string): Promise<boolean> {
    return (await this.certs.forAgent(agentId)) > 0;
  }
}
