import { In, LessThan, LessThanOrEqual, Not, type DataSource, type Repository } from "typeorm";
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
