import { In, MoreThan, type DataSource, type Repository } from "typeorm";
import { AgentCertificateEntity, AgentRevocationEntity } from "../entities";

/** A certificate as the CA issued it, with where it came from; revocation state is the repository's. */
export type IssuedCertificateRow = Omit<AgentCertificateEntity, "revokedAt">;

/** Client certificates the CA issued and the agents that were revoked. */
export class CertificateRepository {
  constructor(
    private readonly certs: Repository<AgentCertificateEntity>,
    private readonly revocations: Repository<AgentRevocationEntity>,
  ) {}

  static of(ds: DataSource): CertificateRepository {
    return new CertificateRepository(ds.getRepository(AgentCertificateEntity), ds.getRepository(AgentRevocationEntity));
  }

  async issue(row: IssuedCertificateRow): Promise<void> {
    await this.certs.insert({ ...row, revokedAt: 0 });
  }

  byFingerprint(fingerprint: string): Promise<AgentCertificateEntity | null> {
    return this.certs.findOneBy({ fingerprint });
  }

  /** The certificates with any of these fingerprints, in one query (unknown ones are left out). */
  byFingerprints(fingerprints: readonly string[]): Promise<AgentCertificateEntity[]> {
    return this.certs.findBy({ fingerprint: In([...fingerprints]) });
  }

  /** Which of these agents were revoked, in one query. */
  async revokedAmong(agentIds: readonly string[]): Promise<Set<string>> {
    const rows = await this.revocations.find({ where: { agentId: In([...agentIds]) }, select: { agentId: true } });
    return new Set(rows.map((r) => r.agentId));
  }

  async isRevoked(agentId: string): Promise<boolean> {
    return (await this.revocations.countBy({ agentId })) > 0;
  }

  /**
   * Records the agent's revocation unless it already is, and marks every certificate it holds that
   * is not yet revoked. Returns whether the agent was newly revoked and how many certificates changed.
   */
  async revoke(agentId: string, at: number, by: string, reason: string): Promise<{ revoked: boolean; certificates: number }> {
    const already = await this.isRevoked(agentId);
    if (!already) await this.revocations.insert({ agentId, revokedAt: at, revokedBy: by, reason });
    const res = await this.certs.update({ agentId, revokedAt: 0 }, { revokedAt: at });
    return { revoked: !already, certificates: res.affected ?? 0 };
  }

  /** Agents revoked after `since` (ms), oldest first, at most `take`. */
  async revokedSince(since: number, take: number): Promise<Array<{ agentId: string; revokedAt: number }>> {
    const rows = await this.revocations.find({ where: { revokedAt: MoreThan(since) }, order: { revokedAt: "ASC" }, take });
    return rows.map((r) => ({ agentId: r.agentId, revokedAt: r.revokedAt }));
  }

  /** How many certificates were ever issued to the agent. */
  forAgent(agentId: string): Promise<number> {
    return this.certs.countBy({ agentId });
  }
}
