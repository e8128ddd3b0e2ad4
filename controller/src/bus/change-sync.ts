import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";

/** What one replica keeps in memory from the database: its own changes announced, and a reload. */
export interface SyncedState {
  /** Calls `l` after this replica changed the state (in the database). */
  onLocalChange(l: () => void): void;
  /** Re-reads the state after another replica changed it. */
  reload(): Promise<void>;
}

const ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * State a replica keeps in memory from the database (webhook destinations, the agent policy) that
 * another replica's API may change. A change is announced on `<prefix>.changed.<what>` and the
 * others reload from the database (the message carries nothing but who changed it: the table is
 * the truth, and nothing read from NATS becomes state). A periodic reload covers an announcement
 * lost while NATS was away (0: none).
 */
export class ChangeSync {
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;
  private reloading?: Promise<void>;
  private again = false;
  /** While a reload runs, the state's change listeners fire for it: not a local change, not announced (no echo storm). */
  private applying = false;
  readonly counts = { announced: 0, received: 0, reloads: 0, rejected: 0 };

  constructor(
    private readonly nc: Pick<NatsConnection, "publish" | "subscribe">,
    private readonly prefix: string,
    /** What changes: one subject token (webhooks, policy). */
    private readonly what: string,
    private readonly replicaId: string,
    private readonly reloadEveryMs = 30_000,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  start(service: SyncedState): void {
    const subject = `${this.prefix}.changed.${this.what}`;
    service.onLocalChange(() => {
      // A genuine local change during a reload is not announced either; the others' periodic reload (or the next change) covers it.
      if (this.applying) return;
      try {
        this.nc.publish(subject, JSON.stringify({ v: 1, r: this.replicaId }));
        this.counts.announced++;
      } catch (err) {
        this.onError(err);
      }
    });
    this.sub = this.nc.subscribe(subject, { callback: (err, msg) => (err ? this.onError(err) : this.receive(msg, service)) });
    if (this.reloadEveryMs > 0) {
      this.timer = setInterval(() => this.reload(service), this.reloadEveryMs);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.sub?.unsubscribe();
  }

  private receive(msg: Msg, service: SyncedState): void {
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
    if (r === this.replicaId) return;
    this.counts.received++;
    this.reload(service);
  }

  /** One reload at a time; a change announced during one triggers one more after it. */
  private reload(service: SyncedState): void {
    if (this.reloading) {
      this.again = true;
      return;
    }
    this.counts.reloads++;
    this.applying = true;
    this.reloading = service
      .reload()
      .catch(this.onError)
      .finally(() => {
        this.applying = false;
        this.reloading = undefined;
        if (this.again) {
          this.again = false;
          this.reload(service);
        }
      });
  }
}
