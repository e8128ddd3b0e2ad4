import { Column, Entity, Index, PrimaryColumn } from "typeorm";
import { bigintMs } from "./transformers";

const nullableMs = { ...bigintMs, from: (v: string | number | null) => (v === null || v === undefined ? null : Number(v)) };

/** The current version of each playbook. */
@Entity({ name: "playbooks" })
export class PlaybookEntity {
  @PrimaryColumn({ type: "varchar", length: 64 }) id!: string;
  @Column({ type: "varchar", length: 200 }) name!: string;
  @Column({ type: "integer" }) version!: number;
  @Column({ type: "text" }) yaml!: string;
  @Column({ type: "boolean" }) enabled!: boolean;
  @Column({ type: "boolean", default: false }) deleted!: boolean;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
}

/** Every version ever saved, so an action can always be traced to the exact playbook text that caused it. */
@Entity({ name: "playbook_versions" })
export class PlaybookVersionEntity {
  @PrimaryColumn({ name: "playbook_id", type: "varchar", length: 64 }) playbookId!: string;
  @PrimaryColumn({ type: "integer" }) version!: number;
  @Column({ type: "text" }) yaml!: string;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "created_by", type: "varchar", length: 128 }) createdBy!: string;
}

export type PlaybookActionState = "issued" | "pending" | "approved" | "rejected" | "refused" | "skipped";

/** One decision a playbook made about one alert: issued automatically, waiting for an analyst, or refused by a guard rail. */
@Entity({ name: "playbook_actions" })
@Index("playbook_actions_once", ["playbookId", "alertId", "actionIndex"], { unique: true })
export class PlaybookActionEntity {
  @PrimaryColumn({ type: "varchar", length: 36 }) id!: string;
  @Column({ name: "playbook_id", type: "varchar", length: 64 }) playbookId!: string;
  @Column({ name: "playbook_version", type: "integer" }) playbookVersion!: number;
  @Column({ name: "alert_id", type: "varchar", length: 36 }) alertId!: string;
  @Column({ name: "case_id", type: "varchar", length: 36, nullable: true }) caseId!: string | null;
  @Column({ name: "agent_id", type: "varchar", length: 128 }) agentId!: string;
  @Column({ name: "action_index", type: "integer" }) actionIndex!: number;
  @Column({ name: "action_type", type: "varchar", length: 32 }) actionType!: string;
  @Column({ name: "params_json", type: "text" }) paramsJson!: string;
  @Column({ type: "varchar", length: 16 }) state!: PlaybookActionState;
  @Column({ type: "text" }) reason!: string;
  @Column({ name: "command_id", type: "varchar", length: 64, nullable: true }) commandId!: string | null;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "decided_at", type: "bigint", nullable: true, transformer: nullableMs }) decidedAt!: number | null;
  @Column({ name: "decided_by", type: "varchar", length: 128, nullable: true }) decidedBy!: string | null;
}

export const playbookEntities = [PlaybookEntity, PlaybookVersionEntity, PlaybookActionEntity];
