import { Column, Entity, Index, PrimaryGeneratedColumn } from "typeorm";
import { bigintMs } from "./transformers";

/** Append-only: every step of every response action (requested, sent, result, expired). Never updated. */
@Entity({ name: "action_log" })
@Index("action_log_command", ["commandId"])
export class ActionLogEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: "bigint", transformer: bigintMs })
  time!: number;

  @Column({ name: "command_id", type: "varchar", length: 64 })
  commandId!: string;

  @Column({ name: "agent_id", type: "varchar", length: 128 })
  agentId!: string;

  @Column({ type: "varchar", length: 32 })
  step!: string;

  @Column({ type: "text" })
  detail!: string;
}
