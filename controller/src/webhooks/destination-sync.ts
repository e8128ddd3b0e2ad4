import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";

/** The webhook service as the sync sees it: its changes, and a reload from the database. */
export interface SyncedDestinations {
  onDestinationsChanged(l: () => void): void;
  load(): Promise<void>;
}

const ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Each replica matches notices against webhook destinations kept in memory; a destination made
 * or changed through one replica's API must reach the others before the next notice they make.
 * A change is announced on `<prefix>.webhooks.changed` and the others reload from the database
 * (the message carries no destination: the table is the truth). A periodic reload covers an
 * announcement lost while NATS was away.
 */
export class DestinationSync {
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  private reloading?: Promise<void>;
  private again = false;
  readonly counts = { announced: 0, reloads: 0, rejected: 0 };

  constructor(
    private readonly nc: Pick<NatsConnection, "publish" | "subscribe">,
    private readonly prefix: string,
    private readonly replicaId: string,
    private readonly reloadEveryMs = 30_000,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  start(service: SyncedDestinations): void {
    const subject = `${this.prefix}.webhooks.changed`;
    service.onDestinationsChanged(() => {
      try {
        this.nc.publish(subject, JSON.stringify({ v: 1, r: this.replicaId }));
        this.counts.announced++;
      } catch (err) {
        this.onError(err);
      }
    });
    this.sub = this.nc.subscribe(subject, { callback: (err, msg) => (err ? this.onError(err) : this.receive(msg, service)) });
    this.timer = setInterval(() => this.reload(service), this.reloadEveryMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.sub?.unsubscribe();
  }

  private receive(msg: Msg, service: SyncedDestinations): void {
    let r: unknown;
    try {
      r = msg.data.byteLength <= 512 ? (JSON.parse(Buffer.from(msg.data).toString("utf8")) as { r?: unknown }).r : undefined;
    } catch {
      r = undefined;
    }
    if (typeof r !== "string" || !ID.test(r)) {
      this.counts.rejected++;
      return;
    }
    if (r !== this.replicaId) this.reload(service);
  }

  /** One reload at a time; a change announced during one triggers one more after it. */
  private reload(service: SyncedDestinations): void {
    if (this.reloading) {
      this.again = true;
      return;
    }
    this.counts.reloads++;
    this.reloading = service
      .load()
      .catch(this.onError)
      .finally(() => {
        this.reloading = undefined;
        if (this.again) {
          this.again = false;
          this.reload(service);
        }
      });
  }
}
