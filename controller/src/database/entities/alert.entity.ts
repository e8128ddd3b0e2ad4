import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";
import { bigintMs } from "./transformers";
import type { ScoreFactor } from "@vigil/detection";

export type AlertState = "new" | "acknowledged" | "resolved";
export const ALERT_STATES: readonly AlertState[] = ["new", "acknowledged", "resolved"];
export type AlertVerdict = "true_positive" | "false_positive";
export const VERDICTS: readonly AlertVerdict[] = ["true_positive", "false_positive"];

/** Where an alert's evidence lives: the stored event (agent, seq). */
export interface EventRef {
  agentId: string;
  seq: number;
  timeMs: number;
}

export interface AlertIocHit {
  kind: string;
  value: string;
  confidence: number;
  source: string;
}

const nullableBig = { ...bigintMs, from: (v: string | number | null) => (v === null || v === undefined ? null : Number(v)) };

@Entity({ name: "alerts" })
export class AlertEntity {
  @PrimaryColumn({ type: "varchar", length: 36 }) id!: string;
  @Column({ name: "rule_id", type: "varchar", length: 128 }) ruleId!: string;
  @Column({ name: "rule_title", type: "varchar", length: 512 }) ruleTitle!: string;
  @Column({ name: "rule_level", type: "varchar", length: 16 }) ruleLevel!: string;
  @Column({ name: "rule_tags", type: "simple-json" }) ruleTags!: string[];
  @Column({ type: "varchar", length: 16 }) kind!: string;
  @Column({ name: "correlation_type", type: "varchar", length: 32, nullable: true }) correlationType!: string | null;
  @Column({ name: "agent_id", type: "varchar", length: 128 }) agentId!: string;
  @Column({ type: "varchar", length: 255 }) hostname!: string;
  @Column({ name: "entity_kind", type: "varchar", length: 8 }) entityKind!: string;
  @Column({ name: "entity_value", type: "varchar", length: 255 }) entityValue!: string;
  /** Entity keys ("ip:203.0.113.5"), primary first. */
  @Column({ type: "simple-json" }) entities!: string[];
  @Column({ name: "dedup_key", type: "varchar", length: 700 }) dedupKey!: string;
  @Column({ type: "integer" }) score!: number;
  @Column({ type: "simple-json" }) breakdown!: ScoreFactor[];
  @Column({ type: "integer" }) count!: number;
  @Column({ name: "first_seen", type: "bigint", transformer: bigintMs }) firstSeen!: number;
  @Column({ name: "last_seen", type: "bigint", transformer: bigintMs }) lastSeen!: number;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
  @Column({ type: "varchar", length: 16 }) state!: AlertState;
  @Column({ type: "varchar", length: 32, nullable: true }) verdict!: AlertVerdict | null;
  @Column({ name: "case_id", type: "varchar", length: 36, nullable: true }) caseId!: string | null;
  @Column({ name: "event_refs", type: "simple-json" }) eventRefs!: EventRef[];
  @Column({ name: "event_fields", type: "simple-json" }) eventFields!: Record<string, unknown>[];
  @Column({ name: "group_by", type: "simple-json", nullable: true }) groupBy!: Record<string, unknown> | null;
  @Column({ name: "ioc_hits", type: "simple-json" }) iocHits!: AlertIocHit[];
}

@Entity({ name: "suppressions" })
export class SuppressionEntity {
  @PrimaryColumn({ type: "varchar", length: 64 }) id!: string;
  @Column({ name: "rule_id", type: "varchar", length: 255, nullable: true }) ruleId!: string | null;
  @Column({ type: "simple-json", nullable: true }) fields!: Record<string, unknown> | null;
  @Column({ name: "agent_tags", type: "simple-json", nullable: true }) agentTags!: string[] | null;
  @Column({ name: "expires_at", type: "bigint", nullable: true, transformer: nullableBig }) expiresAt!: number | null;
  @Column({ type: "text" }) reason!: string;
  @Column({ name: "created_by", type: "varchar", length: 255 }) createdBy!: string;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ type: "integer" }) hits!: number;
  @Column({ name: "last_hit_at", type: "bigint", nullable: true, transformer: nullableBig }) lastHitAt!: number | null;
}

@Entity({ name: "alert_feedback" })
export class AlertFeedbackEntity {
  @PrimaryGeneratedColumn({ type: "bigint" }) id!: string;
  @Column({ name: "alert_id", type: "varchar", length: 36 }) alertId!: string;
  @Column({ name: "rule_id", type: "varchar", length: 128 }) ruleId!: string;
  @Column({ name: "entity_key", type: "varchar", length: 300 }) entityKey!: string;
  @Column({ type: "varchar", length: 32 }) verdict!: AlertVerdict;
  @Column({ type: "text", nullable: true }) note!: string | null;
  @Column({ type: "varchar", length: 255 }) actor!: string;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "suppression_id", type: "varchar", length: 64, nullable: true }) suppressionId!: string | null;
}

@Entity({ name: "feedback_weights" })
export class FeedbackWeightEntity {
  @PrimaryColumn({ name: "weight_key", type: "varchar", length: 500 }) key!: string;
  @Column({ type: "double precision" }) weight!: number;
  @Column({ name: "true_positives", type: "integer" }) truePositives!: number;
  @Column({ name: "false_positives", type: "integer" }) falsePositives!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
}

export { nullableBig };
