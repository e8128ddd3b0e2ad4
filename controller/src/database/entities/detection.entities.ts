import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";
import { bigintMs } from "./transformers";
import { nullableBig } from "./alert.entity";

/** One uploaded Sigma file (possibly several YAML documents: a correlation and its base rules). */
@Entity({ name: "detection_rule_sources" })
export class RuleSourceEntity {
  @PrimaryColumn({ type: "varchar", length: 255 }) name!: string;
  @Column({ type: "text" }) yaml!: string;
  @Column({ name: "rule_ids", type: "simple-json" }) ruleIds!: string[];
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "created_by", type: "varchar", length: 255 }) createdBy!: string;
}

/** An analyst's enable/disable switch for any rule, built-in or uploaded. */
@Entity({ name: "detection_rule_settings" })
export class RuleSettingEntity {
  @PrimaryColumn({ name: "rule_id", type: "varchar", length: 128 }) ruleId!: string;
  @Column({ type: "integer" }) enabled!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
  @Column({ name: "updated_by", type: "varchar", length: 255 }) updatedBy!: string;
}

@Entity({ name: "iocs" })
export class IocEntity {
  @PrimaryGeneratedColumn({ type: "bigint" }) id!: string;
  @Column({ type: "varchar", length: 8 }) kind!: string;
  @Column({ type: "varchar", length: 300 }) value!: string;
  @Column({ type: "integer" }) confidence!: number;
  @Column({ type: "varchar", length: 255 }) source!: string;
  @Column({ type: "text", nullable: true }) description!: string | null;
  @Column({ name: "expires_at", type: "bigint", nullable: true, transformer: nullableBig }) expiresAt!: number | null;
  @Column({ type: "simple-json" }) tags!: string[];
  @Column({ name: "source_id", type: "varchar", length: 255, nullable: true }) sourceId!: string | null;
  @Column({ name: "created_at", type: "bigint", transformer: bigintMs }) createdAt!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
}

@Entity({ name: "login_baselines" })
export class LoginBaselineEntity {
  @PrimaryColumn({ name: "user_name", type: "varchar", length: 255 }) user!: string;
  @Column({ type: "text" }) baseline!: string;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
}
