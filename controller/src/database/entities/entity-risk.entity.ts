import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintMs } from "./transformers";

/** Risk of a host, user or IP as of `updatedAt` (event time); read it through `riskAt`, which decays it. */
@Entity({ name: "entity_risk" })
export class EntityRiskEntity {
  @PrimaryColumn({ name: "entity_key", type: "varchar", length: 300 }) key!: string;
  @Column({ type: "varchar", length: 8 }) kind!: string;
  @Column({ type: "varchar", length: 290 }) value!: string;
  @Column({ type: "double precision" }) score!: number;
  @Column({ name: "updated_at", type: "bigint", transformer: bigintMs }) updatedAt!: number;
}
