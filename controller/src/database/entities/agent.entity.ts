import { Column, Entity, PrimaryColumn } from "typeorm";
import { bigintMs } from "./transformers";

@Entity({ name: "agents" })
export class AgentEntity {
  @PrimaryColumn({ type: "varchar", length: 128 })
  id!: string;

  @Column({ type: "varchar", length: 255, default: "" })
  hostname!: string;

  @Column({ type: "varchar", length: 255, default: "" })
  os!: string;

  @Column({ type: "varchar", length: 255, default: "" })
  kernel!: string;

  @Column({ type: "varchar", length: 64, default: "" })
  arch!: string;

  @Column({ name: "agent_version", type: "varchar", length: 64, default: "" })
  agentVersion!: string;

  @Column({ name: "ip_addresses", type: "simple-json" })
  ipAddresses!: string[];

  /** Tags from the enrollment token or the admin: the only ones guard rails and playbook targeting read. */
  @Column({ type: "simple-json" })
  tags!: string[];

  /** Tags an admin set through the API; when set they are `tags`, whatever the token said. */
  @Column({ name: "admin_tags", type: "simple-json", nullable: true })
  adminTags!: string[] | null;

  /** Tags the agent claims in its Hello: shown, never trusted. */
  @Column({ name: "self_reported_tags", type: "simple-json", default: "[]" })
  selfReportedTags!: string[];

  @Column({ name: "boot_time", type: "bigint", default: 0, transformer: bigintMs })
  bootTime!: number;

  @Column({ name: "first_seen", type: "bigint", transformer: bigintMs })
  firstSeen!: number;

  @Column({ name: "last_seen", type: "bigint", transformer: bigintMs })
  lastSeen!: number;

  /** Highest sequence number below which every event is stored or recorded as a gap. */
  @Column({ name: "acked_seq", type: "bigint", default: 0, transformer: bigintMs })
  ackedSeq!: number;

  /** Highest sequence number the agent reported assigning. */
  @Column({ name: "last_seq", type: "bigint", default: 0, transformer: bigintMs })
  lastSeq!: number;

  /** Sensor health, spool backlog, drops, isolation, as last reported. */
  @Column({ type: "simple-json" })
  status!: Record<string, unknown>;

  /** Sequence ranges the agent never sent (counted drops): [from, to] inclusive. */
  @Column({ type: "simple-json" })
  gaps!: Array<[number, number]>;

  /** Exact count of sequence numbers the agent never sent (the gaps list keeps only recent ranges). */
  @Column({ name: "missing_events", type: "bigint", default: 0, transformer: bigintMs })
  missingEvents!: number;
}
