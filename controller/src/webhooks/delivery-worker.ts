import { fullJitterDelay } from "@vigil/proto";
import type { DeliveryOptions } from "../config/integrations-config";
import type { Notice } from "../integrations/notices";
import { render } from "./formats";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signBody } from "./signature";
import type { WebhookDeliveryEntity, WebhookDestinationEntity } from "../database/entities/webhook.entities";
import type { WebhookRepository } from "../database/repositories/webhook-repository";

// The tuning is a setting (config/ validates it); re-exported for the webhook side.
export type { DeliveryOptions };

export type DeliveryOutcome = "delivered" | "retry" | "dead";

export const DEFAULT_DELIVERY_OPTIONS: DeliveryOptions = { concurrency: 4, maxAttempts: 8, baseDelayMs: 2_000, maxDelayMs: 10 * 60_000, timeoutMs: 10_000, keepDeliveredMs: 24 * 3600_000 };

/** The shared full-jitter backoff, with a floor of half the base delay so a retry never comes back at once. */
export function backoffMs(attempt: number, o: Pick<DeliveryOptions, "baseDelayMs" | "maxDelayMs">, random: () => number = Math.random): number {
  return fullJitterDelay(attempt - 1, { baseMs: o.baseDelayMs, capMs: o.maxDelayMs, floorMs: o.baseDelayMs / 2 }, random);
}

/** 4xx means the receiver will refuse this body again; except timeouts, "too early" and rate limits. */
function permanent(status: number): boolean {
  return status >= 300 && status < 500 && ![408, 425, 429].includes(status);
}

interface Attempt {
  outcome: DeliveryOutcome;
  status: number | null;
  error: string | null;
  retryAfterMs?: number;
}

/**
 * Sends persisted deliveries: due rows (pending, next attempt passed) are claimed oldest first, at
 * most `concurrency` at a time (a claim hides the row from other replicas' workers for a lease); each is signed and POSTed, then marked delivered, rescheduled with
 * backoff, or moved to the dead letters. Everything is in the table, so a restart resumes where
 * the last process stopped (a send in flight at a crash is sent again: at-least-once, and the
 * X-Vigil-Delivery id lets receivers drop the duplicate).
 */
export class DeliveryWorker {
  private readonly inFlight = new Set<number>();
  private timer?: NodeJS.Timeout;
  private scanning = false;
  private rescan = false;
  private stopped = true;
  private lastPrune = 0;

  constructor(
    private readonly repo: Pick<WebhookRepository, "claimDue" | "nextPending" | "updateDelivery" | "pruneDelivered">,
    private readonly destination: (id: string) => WebhookDestinationEntity | undefined,
    private readonly opts: DeliveryOptions,
    private readonly onOutcome: (o: DeliveryOutcome, d: WebhookDeliveryEntity) => void = () => undefined,
    private readonly onError: (err: unknown) => void = () => undefined,
    private readonly userAgent = "Vigil-Webhooks",
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.stopped = false;
    this.kick();
  }

  /** Stops picking new work and waits (bounded) for sends in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const deadline = Date.now() + this.opts.timeoutMs;
    while (this.inFlight.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** Long enough for one send (its timeout) and the write of its outcome, with room for a slow database. */
  private get claimLeaseMs(): number {
    return 2 * this.opts.timeoutMs + 30_000;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Looks for due work now (after an enqueue, a finished send, or a retry request). */
  kick(): void {
    if (this.stopped) return;
    if (this.scanning) {
      this.rescan = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.scan(), 0);
  }

  private async scan(): Promise<void> {
    this.scanning = true;
    let nextWake = 5_000;
    try {
      do {
        this.rescan = false;
        const free = this.opts.concurrency - this.inFlight.size;
        if (free <= 0) break;
        const now = this.now();
        // Claimed, not just read: with several replicas sharing the outbox, each delivery is sent by one.
        const due = await this.repo.claimDue(now, free, this.claimLeaseMs);
        for (const row of due) this.launch(row);
        if (due.length === free) this.rescan = true;
      } while (this.rescan && !this.stopped && this.inFlight.size < this.opts.concurrency);
      const next = await this.repo.nextPending();
      if (next && !this.inFlight.has(next.id)) nextWake = Math.max(10, Math.min(nextWake, next.nextAttemptAt - this.now()));
      await this.prune();
    } catch (err) {
      // The database may be briefly unavailable; try again at the next wake.
      this.onError(err);
    } finally {
      this.scanning = false;
    }
    if (this.stopped) return;
    if (this.rescan) return this.kick();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.scan(), nextWake);
    this.timer.unref();
  }

  private launch(row: WebhookDeliveryEntity): void {
    this.inFlight.add(row.id);
    void this.deliver(row)
      .catch((err: unknown) => this.onError(err))
      .finally(() => {
        this.inFlight.delete(row.id);
        this.kick();
      });
  }

  private async deliver(row: WebhookDeliveryEntity): Promise<void> {
    const dest = this.destination(row.destinationId);
    if (!dest) {
      await this.repo.updateDelivery(row.id, { state: "dead", lastError: "destination deleted", updatedAt: this.now() });
      return;
    }
    if (!dest.enabled) {
      // Held, not lost: a re-enabled destination receives what queued while it was off.
      await this.repo.updateDelivery(row.id, { nextAttemptAt: this.now() + 60_000 });
      return;
    }
    const notice = JSON.parse(row.noticeJson) as Notice;
    const a = await this.attempt(dest, notice, row);
    const attempts = row.attempts + 1;
    const outcome: DeliveryOutcome = a.outcome === "retry" && attempts >= this.opts.maxAttempts ? "dead" : a.outcome;
    const now = this.now();
    const delay = Math.min(this.opts.maxDelayMs, Math.max(backoffMs(attempts, this.opts), a.retryAfterMs ?? 0));
    const lastError = a.error && outcome === "dead" && a.outcome === "retry" ? `${a.error} (gave up after ${attempts} attempts)` : a.error;
    await this.repo.updateDelivery(row.id, {
      state: outcome === "retry" ? "pending" : outcome,
      attempts,
      lastStatus: a.status,
      lastError: lastError?.slice(0, 512) ?? null,
      nextAttemptAt: outcome === "retry" ? now + delay : row.nextAttemptAt,
      updatedAt: now,
    });
    this.onOutcome(outcome, { ...row, attempts, state: outcome === "retry" ? "pending" : outcome });
  }

  private async attempt(dest: WebhookDestinationEntity, notice: Notice, row: WebhookDeliveryEntity): Promise<Attempt> {
    const { body } = render(dest, notice, row.id);
    const ts = Math.floor(this.now() / 1000);
    let res: Response;
    try {
      res = await fetch(dest.url, {
        method: "POST",
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.opts.timeoutMs),
        headers: {
          "content-type": "application/json",
          "user-agent": this.userAgent,
          "x-vigil-delivery": String(row.id),
          "x-vigil-event": notice.type,
          [TIMESTAMP_HEADER]: String(ts),
          [SIGNATURE_HEADER]: signBody(dest.secret, ts, body),
        },
      });
    } catch (err) {
      return { outcome: "retry", status: null, error: describe(err) };
    }
    // The receiver's body is not ours to keep; drain it so the connection is reused.
    await res.arrayBuffer().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { outcome: "delivered", status: res.status, error: null };
    if (permanent(res.status))
      return { outcome: "dead", status: res.status, error: `receiver refused with HTTP ${res.status}${res.status < 400 ? " (redirects are not followed; use the final URL)" : ""}` };
    const retryAfter = Number(res.headers.get("retry-after"));
    return { outcome: "retry", status: res.status, error: `HTTP ${res.status}`, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
  }

  private async prune(): Promise<void> {
    const now = this.now();
    if (now - this.lastPrune < 60_000) return;
    this.lastPrune = now;
    await this.repo.pruneDelivered(now - this.opts.keepDeliveredMs);
  }
}

/** A network failure without the URL (it may hold a token): the error code or message only. */
function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === "TimeoutError") return "timed out";
  return (e?.cause?.code ?? e?.cause?.message ?? e?.message ?? "request failed").slice(0, 200);
}
