import { In, LessThan, LessThanOrEqual, Not, type DataSource, type Repository } from "typeorm";
import { dialectOf } from "../dialect";
import { WebhookDeliveryEntity, WebhookDestinationEntity, type DeliveryState } from "../entities/webhook.entities";

/** A delivery to queue: everything but the id the database assigns. */
export type NewDelivery = Omit<WebhookDeliveryEntity, "id">;

/** Webhook destinations and their queued deliveries (the outbox). */
export class WebhookRepository {
  constructor(
    private readonly destinations: Repository<WebhookDestinationEntity>,
    private readonly deliveries: Repository<WebhookDeliveryEntity>,
  ) {}

  static of(ds: DataSource): WebhookRepository {
    return new WebhookRepository(ds.getRepository(WebhookDestinationEntity), ds.getRepository(WebhookDeliveryEntity));
  }

  allDestinations(): Promise<WebhookDestinationEntity[]> {
    return this.destinations.find();
  }

  async insertDestination(d: WebhookDestinationEntity): Promise<void> {
    await this.destinations.insert(this.destinations.create(d));
  }

  async saveDestination(d: WebhookDestinationEntity): Promise<void> {
    await this.destinations.save(this.destinations.create(d));
  }

  /** The destination and every delivery queued for it. */
  async removeDestination(id: string): Promise<void> {
    await this.deliveries.delete({ destinationId: id });
    await this.destinations.delete({ id });
  }

  async enqueue(rows: readonly NewDelivery[]): Promise<void> {
    await this.deliveries.insert([...rows]);
  }

  /** Pending deliveries due at `now`, oldest first, leaving out those in flight. */
  due(now: number, inFlight: readonly number[], take: number): Promise<WebhookDeliveryEntity[]> {
    return this.deliveries.find({
      where: { state: "pending", nextAttemptAt: LessThanOrEqual(now), ...(inFlight.length ? { id: Not(In([...inFlight])) } : {}) },
      order: { nextAttemptAt: "ASC", id: "ASC" },
      take,
    });
  }

  /**
   * Claims up to `take` due deliveries for one sender: their next attempt is pushed `leaseMs` out
   * in the same transaction, so no other worker (another replica's) sees them due while this one
   * sends. On PostgreSQL the rows are locked with SKIP LOCKED, so concurrent claims never block
   * each other or take the same row. A sender that dies holds its claim only until the lease ends
   * (then the delivery is due again: at-least-once, as a crash mid-send always was). The rows come
   * back with the attempt time they were due at.
   */
  async claimDue(now: number, take: number, leaseMs: number): Promise<WebhookDeliveryEntity[]> {
    const claim = async (repo: Repository<WebhookDeliveryEntity>, lock: boolean) => {
      const q = repo
        .createQueryBuilder("d")
        .where("d.state = :state", { state: "pending" })
        .andWhere("d.nextAttemptAt <= :now", { now })
        .orderBy("d.nextAttemptAt", "ASC")
        .addOrderBy("d.id", "ASC")
        .limit(take);
      if (lock) q.setLock("pessimistic_write").setOnLocked("skip_locked");
      const rows = await q.getMany();
      if (rows.length) await repo.update({ id: In(rows.map((r) => r.id)) }, { nextAttemptAt: now + leaseMs });
      return rows;
    };
    // SQLite is one process with one worker, whose scans never overlap: no transaction needed (nor
    // wanted: it would contend with the ingest writer's on the one connection).
    if (dialectOf(this.deliveries.manager.connection) !== "postgres") return claim(this.deliveries, false);
    return this.deliveries.manager.transaction((m) => claim(m.getRepository(WebhookDeliveryEntity), true));
  }

  /** The pending delivery due soonest (for the next wake). */
  nextPending(): Promise<WebhookDeliveryEntity | null> {
    return this.deliveries.findOne({ where: { state: "pending" }, order: { nextAttemptAt: "ASC" } });
  }

  async updateDelivery(id: number, patch: Partial<Pick<WebhookDeliveryEntity, "state" | "attempts" | "lastStatus" | "lastError" | "nextAttemptAt" | "updatedAt">>): Promise<void> {
    await this.deliveries.update({ id }, patch);
  }

  /** Deletes delivered rows last updated before `before`. */
  async pruneDelivered(before: number): Promise<void> {
    await this.deliveries.delete({ state: "delivered", updatedAt: LessThan(before) });
  }

  /** A destination's deliveries, newest first. */
  deliveriesOf(destinationId: string, state: DeliveryState | undefined, limit: number): Promise<WebhookDeliveryEntity[]> {
    return this.deliveries.find({ where: { destinationId, ...(state ? { state } : {}) }, order: { id: "DESC" }, take: limit });
  }

  /** Dead letters (one, or all of the destination's) back to pending; how many. */
  async requeueDead(destinationId: string, deliveryId: number | undefined, now: number): Promise<number> {
    const res = await this.deliveries.update(
      { destinationId, state: "dead", ...(deliveryId !== undefined ? { id: deliveryId } : {}) },
      { state: "pending", attempts: 0, nextAttemptAt: now, updatedAt: now },
    );
    return res.affected ?? 0;
  }

  async countByState(): Promise<Array<{ state: DeliveryState; n: number }>> {
    const rows = await this.deliveries.createQueryBuilder("d").select("d.state", "state").addSelect("COUNT(*)", "n").groupBy("d.state").getRawMany<{ state: DeliveryState; n: string | number }>();
    return rows.map((r) => ({ state: r.state, n: Number(r.n) }));
  }
}
