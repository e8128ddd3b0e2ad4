import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";
import { bigintMs } from "./transformers";

export type WebhookFormat = "generic" | "slack" | "pagerduty";
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ["generic", "slack", "pagerduty"];
export type DeliveryState = "pending" | "delivered" | "dead";
export const DELIVERY_STATES: readonly DeliveryState[] = ["pending", "delivered", "dead"];

/**
 * Where notices go. The HMAC secret and the PagerDuty routing key are stored as given because
 * every send needs them; the API never returns them, only a hint (their last four characters).
 */
@Entity({ name: "webhook_destinations" })
export class WebhookDestinationEntity {
  @PrimaryColumn({ type: "varchar", length: 36 }) id!: string;
  @Column({ type: "varchar", length: 128 }) name!: string;
  @Column({ type: "varchar", length: 2048 }) url!: string;
  @Column({ type: "varchar", length: 16 }) format!: WebhookFormat;
  @Column({ type: "simple-json" }) topics!: string[];
  @Column({ name: "min_score", type: "integer" }) minScore!: number;
  @Column({ name: "rule_tags", type: "simple-json" }) ruleTags!: string[];
  @Column({ type: "varchar", length: 256 }) secret!: string;
  @Column({ name: "routing_key", type: "varchar", length: 256, nullable: true }) routingKey!: string | null;
  @Column({ type: "boolean" }) enabled!: boolean;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
  @Column({ name: "created_by", type: "varchar", length: 160 }) createdBy!: string;
}

/**
 * One notice for one destination, persisted before the first attempt so a restart resumes it.
 * The notice is stored, not the rendered body: the body is rendered at send time, so the routing
 * key never sits in this table and a format change applies to retries.
 */
@Entity({ name: "webhook_deliveries" })
@Index("webhook_deliveries_due", ["state", "nextAttemptAt"])
@Index("webhook_deliveries_dest", ["destinationId", "state", "id"])
export class WebhookDeliveryEntity {
  @PrimaryGeneratedColumn() id!: number;
  @Column({ name: "destination_id", type: "varchar", length: 36 }) destinationId!: string;
  @Column({ type: "varchar", length: 16 }) topic!: string;
  @Column({ name: "notice_type", type: "varchar", length: 64 }) noticeType!: string;
  @Column({ name: "notice_json", type: "text" }) noticeJson!: string;
  @Column({ type: "varchar", length: 16 }) state!: DeliveryState;
  @Column({ type: "integer" }) attempts!: number;
  @Column({ name: "next_attempt_at", type: "bigint", transformer: bigintMs }) nextAttemptAt!: number;
  @Column({ name: "last_status", type: "integer", nullable: true }) lastStatus!: number | null;
  @Column({ name: "last_error", type: "varchar", length: 512, nullable: true }) lastError!: string | null;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
}

export const webhookEntities = [WebhookDestinationEntity, WebhookDeliveryEntity];
