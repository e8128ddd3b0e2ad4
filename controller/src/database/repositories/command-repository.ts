import { In, type DataSource, type Repository } from "typeorm";
import { ActionLogEntity, CommandEntity, type CommandState } from "../entities";

/** What a command's listing filters on. */
export interface CommandFilter {
  agentId?: string;
  state?: string;
  caseId?: string;
  limit: number;
}

/** Commands to agents and each one's step log. */
export interface CommandRepository {
  byId(id: string): Promise<CommandEntity | null>;
  insert(c: CommandEntity): Promise<void>;
  /** Queued or sent, oldest first: what an agent that just connected still has to receive. */
  pendingFor(agentId: string): Promise<CommandEntity[]>;
  /** pendingFor of many agents in one query: each agent's commands, oldest first (agents with none are left out). */
  pendingForMany(agentIds: readonly string[]): Promise<Map<string, CommandEntity[]>>;
  /** queued → sent; a command in any other state is left alone. */
  markSent(id: string, sentAt: number): Promise<void>;
  /** Sets the final state only if the command is still in `from`; whether it did (the first result wins). */
  finish(id: string, from: CommandState, to: { state: CommandState; reason: string; outputJson: string; finishedAt: number }): Promise<boolean>;
  /** Queued or sent commands whose expiry is at or before `now`. */
  overdue(now: number): Promise<CommandEntity[]>;
  /** Newest first. */
  list(f: CommandFilter): Promise<CommandEntity[]>;
  addStep(step: { time: number; commandId: string; agentId: string; step: string; detail: string }): Promise<void>;
  /** A command's steps in order. */
  steps(commandId: string): Promise<ActionLogEntity[]>;
}

export class SqlCommandRepository implements CommandRepository {
  constructor(
    private readonly commands: Repository<CommandEntity>,
    private readonly log: Repository<ActionLogEntity>,
  ) {}

  static of(ds: DataSource): SqlCommandRepository {
    return new SqlCommandRepository(ds.getRepository(CommandEntity), ds.getRepository(ActionLogEntity));
  }

  byId(id: string): Promise<CommandEntity | null> {
    return this.commands.findOneBy({ id });
  }

  async insert(c: CommandEntity): Promise<void> {
    await this.commands.save(this.commands.create(c));
  }

  pendingFor(agentId: string): Promise<CommandEntity[]> {
    return this.commands.find({
      where: [
        { agentId, state: "queued" },
        { agentId, state: "sent" },
      ],
      order: { issuedAt: "ASC" },
    });
  }

  async pendingForMany(agentIds: readonly string[]): Promise<Map<string, CommandEntity[]>> {
    const out = new Map<string, CommandEntity[]>();
    if (agentIds.length === 0) return out;
    const rows = await this.commands.find({ where: { agentId: In([...agentIds]), state: In(["queued", "sent"]) }, order: { issuedAt: "ASC" } });
    for (const r of rows) {
      const list = out.get(r.agentId);
      if (list) list.push(r);
      else out.set(r.agentId, [r]);
    }
    return out;
  }

  async markSent(id: string, sentAt: number): Promise<void> {
    await this.commands.update({ id, state: "queued" }, { state: "sent", sentAt });
  }

  async finish(id: string, from: CommandState, to: { state: CommandState; reason: string; outputJson: string; finishedAt: number }): Promise<boolean> {
    const res = await this.commands.update({ id, state: from }, to);
    return (res.affected ?? 0) > 0;
  }

  overdue(now: number): Promise<CommandEntity[]> {
    return this.commands
      .createQueryBuilder("c")
      .where("c.state IN (:...s)", { s: ["queued", "sent"] })
      .andWhere("c.expires_at <= :now", { now })
      .getMany();
  }

  list(f: CommandFilter): Promise<CommandEntity[]> {
    const where: Record<string, string> = {};
    if (f.agentId) where.agentId = f.agentId;
    if (f.state) where.state = f.state;
    if (f.caseId) where.caseId = f.caseId;
    return this.commands.find({ where, order: { issuedAt: "DESC" }, take: f.limit });
  }

  async addStep(step: { time: number; commandId: string; agentId: string; step: string; detail: string }): Promise<void> {
    await this.log.insert(step);
  }

  steps(commandId: string): Promise<ActionLogEntity[]> {
    return this.log.find({ where: { commandId }, order: { id: "ASC" } });
  }
}
