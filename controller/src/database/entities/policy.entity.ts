import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintMs } from "./transformers";

/** The fleet's local (offline) policy; one row, versioned. */
@Entity({ name: "agent_policy" })
export class AgentPolicyEntity {
  @PrimaryColumn({ type: "integer" }) id!: number;
  @Column({ type: "integer" }) version!: number;
  @Column({ name: "spec_json", type: "text" }) specJson!: string;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
  @Column({ name: "updated_by", type: "varchar", length: 128 }) updatedBy!: string;
}
