import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintMs } from "./transformers";
import type { AlertVerdict } from "./alert.entity";

export type CaseState = "new" | "acknowledged" | "resolved";

@Entity({ name: "cases" })
export class CaseEntity {
  @PrimaryColumn({ type: "varchar", length: 36 }) id!: string;
  @Column({ type: "varchar", length: 512 }) title!: string;
  @Column({ type: "varchar", length: 16 }) state!: CaseState;
  @Column({ type: "varchar", length: 32, nullable: true }) verdict!: AlertVerdict | null;
  /** The highest score among its alerts. */
  @Column({ type: "integer" }) score!: number;
  /** Entity keys of all its alerts. */
  @Column({ type: "simple-json" }) entities!: string[];
  @Column({ name: "alert_count", type: "integer" }) alertCount!: number;
  @Column({ name: "first_seen", type: "bigint", transformer: bigintMs }) firstSeen!: number;
  @Column({ name: "last_seen", type: "bigint", transformer: bigintMs }) lastSeen!: number;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
  @Column({ name: "resolved_by", type: "varchar", length: 255, nullable: true }) resolvedBy!: string | null;
}
