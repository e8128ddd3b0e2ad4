import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { bigintMs } from "./transformers";

/** not_enforced: the agent is in monitor mode; the action was valid, reported, and not done. */
export type CommandState = "queued" | "sent" | "succeeded" | "failed" | "refused" | "expired" | "not_enforced";

/** A signed command for one agent, from request to result. */
@Entity({ name: "commands" })
@Index("commands_agent_state", ["agentId", "state"])
export class CommandEntity {
  @PrimaryColumn({ type: "varchar", length: 64 })
  id!: string;

  @Column({ name: "agent_id", type: "varchar", length: 128 })
  agentId!: string;

  @Column({ type: "varchar", length: 64 })
  type!: string;

  @Column({ name: "params_json", type: "text" })
  paramsJson!: string;

  @Column({ type: "varchar", length: 16 })
  state!: CommandState;

  @Column({ name: "issued_at", type: "bigint", transformer: bigintMs })
  issuedAt!: number;

  @Column({ name: "expires_at", type: "bigint", transformer: bigintMs })
  expiresAt!: number;

  /** Base64 Ed25519 signature over commandSigningPayload. */
  @Column({ type: "text" })
  signature!: string;

  /** sha256 of the signed payload, for the audit trail. */
  @Column({ name: "payload_sha256", type: "varchar", length: 64 })
  payloadSha256!: string;

  /** Who asked: "apikey:<id>", "playbook:<id>", "agent-local", "cli". */
  @Column({ name: "requested_by", type: "varchar", length: 128 })
  requestedBy!: string;

  @Column({ name: "case_id", type: "varchar", length: 64, nullable: true })
  caseId!: string | null;

  @Column({ name: "alert_id", type: "varchar", length: 64, nullable: true })
  alertId!: string | null;

  /** True for actions the agent took on its own local policy and reported afterwards. */
  @Column({ type: "boolean", default: false })
  local!: boolean;

  @Column({ name: "sent_at", type: "bigint", nullable: true, transformer: bigintMs })
  sentAt!: number | null;

  @Column({ name: "finished_at", type: "bigint", nullable: true, transformer: bigintMs })
  finishedAt!: number | null;

  @Column({ type: "text", default: "" })
  reason!: string;

  @Column({ name: "output_json", type: "text", default: "" })
  outputJson!: string;

  /** For automatic actions: the command that undoes this one (e.g. release for isolate). */
  @Column({ name: "undo_of", type: "varchar", length: 64, nullable: true })
  undoOf!: string | null;
}
