import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintMs } from "./transformers";

/** One link of the audit hash chain (see audit/audit-log.ts). Append-only. */
@Entity({ name: "audit_log" })
export class AuditRecordEntity {
  @PrimaryColumn({ type: "bigint", transformer: bigintMs })
  seq!: number;

  @Column({ type: "bigint", transformer: bigintMs })
  time!: number;

  @Column({ type: "varchar", length: 160 })
  actor!: string;

  @Column({ type: "varchar", length: 64 })
  action!: string;

  @Column({ type: "varchar", length: 255, default: "" })
  target!: string;

  /** Canonical JSON text, stored verbatim so the hash can be recomputed byte for byte. */
  @Column({ type: "text" })
  details!: string;

  @Column({ name: "prev_hash", type: "varchar", length: 64 })
  prevHash!: string;

  @Column({ type: "varchar", length: 64 })
  hash!: string;
}

@Entity({ name: "api_keys" })
export class ApiKeyEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  @Column({ type: "varchar", length: 128, default: "" })
  name!: string;

  @Column({ type: "varchar", length: 16 })
  role!: string;

  /** scrypt$N$r$p$salt$hash (base64url); never the key itself. */
  @Column({ type: "varchar", length: 255 })
  hash!: string;

  @Column({ name: "created_at", type: "bigint", transformer: bigintMs })
  createdAt!: number;

  @Column({ name: "created_by", type: "varchar", length: 160 })
  createdBy!: string;

  @Column({ name: "last_used_at", type: "bigint", default: 0, transformer: bigintMs })
  lastUsedAt!: number;

  @Column({ name: "revoked_at", type: "bigint", default: 0, transformer: bigintMs })
  revokedAt!: number;
}

@Entity({ name: "enrollment_tokens" })
export class EnrollmentTokenEntity {
  @PrimaryColumn({ type: "varchar", length: 32 })
  id!: string;

  /** sha256 of the secret part (hex); the token is 256 random bits, so a slow hash adds nothing. */
  @Column({ type: "varchar", length: 64 })
  hash!: string;

  @Column({ type: "simple-json" })
  tags!: string[];

  @Column({ name: "uses_left", type: "integer" })
  usesLeft!: number;

  @Column({ name: "uses_total", type: "integer" })
  usesTotal!: number;

  @Column({ name: "expires_at", type: "bigint", transformer: bigintMs })
  expiresAt!: number;

  @Column({ name: "created_at", type: "bigint", transformer: bigintMs })
  createdAt!: number;

  @Column({ name: "created_by", type: "varchar", length: 160 })
  createdBy!: string;
}

/** Every client certificate the CA issued; a certificate not in here is unknown. */
@Entity({ name: "agent_certificates" })
export class AgentCertificateEntity {
  @PrimaryColumn({ type: "varchar", length: 64 })
  serial!: string;

  @Column({ name: "agent_id", type: "varchar", length: 128 })
  agentId!: string;

  /** sha256 of the certificate DER, hex. */
  @Column({ type: "varchar", length: 64 })
  fingerprint!: string;

  @Column({ name: "not_before", type: "bigint", transformer: bigintMs })
  notBefore!: number;

  @Column({ name: "not_after", type: "bigint", transformer: bigintMs })
  notAfter!: number;

  @Column({ name: "issued_at", type: "bigint", transformer: bigintMs })
  issuedAt!: number;

  @Column({ name: "token_id", type: "varchar", length: 32, default: "" })
  tokenId!: string;

  /** Tags from the enrollment token, carried over on renewal. */
  @Column({ type: "simple-json" })
  tags!: string[];

  @Column({ name: "revoked_at", type: "bigint", default: 0, transformer: bigintMs })
  revokedAt!: number;
}

@Entity({ name: "agent_revocations" })
export class AgentRevocationEntity {
  @PrimaryColumn({ name: "agent_id", type: "varchar", length: 128 })
  agentId!: string;

  @Column({ name: "revoked_at", type: "bigint", transformer: bigintMs })
  revokedAt!: number;

  @Column({ name: "revoked_by", type: "varchar", length: 160 })
  revokedBy!: string;

  @Column({ type: "varchar", length: 512, default: "" })
  reason!: string;
}
