import { randomBytes, randomUUID } from "node:crypto";
import type { AuditSink } from "../commands/command-service";
import type { Notice } from "../integrations/notices";
import { CaseUpdateThrottle } from "./case-update-throttle";
import { secretHint } from "./signature";
import { WebhookInputError, parseSpec, type WebhookSpec } from "./webhook-spec";
import { DELIVERY_STATES, type DeliveryState, type WebhookDeliveryEntity, type WebhookDestinationEntity } from "../database/entities/webhook.entities";
import type { WebhookRepository } from "../database/repositories/webhook-repository";

export class WebhookNotFound extends Error {}
export { WebhookInputError };

/** A destination as the API shows it: secrets only as hints, and Slack URLs (which are secrets) shortened. */
export function destinationView(d: WebhookDestinationEntity): Record<string, unknown> {
  return {
    id: d.id,
    name: d.name,
    url: displayUrl(d),
    format: d.format,
    topics: d.topics,
    minScore: d.minScore,
    ruleTags: d.ruleTags,
    enabled: d.enabled,
    secretHint: secretHint(d.secret),
    routingKeyHint: secretHint(d.routingKey),
    createdAt: new Date(d.createdAt).toISOString(),
    updatedAt: new Date(d.updatedAt).toISOString(),
    createdBy: d.createdBy,
  };
}

function displayUrl(d: WebhookDestinationEntity): string {
  const u = new URL(d.url);
  // A Slack incoming-webhook URL is its own credential; other URLs may carry tokens in the query.
  if (d.format === "slack") return `${u.origin}/…${u.pathname.slice(-4)}`;
  return u.search ? `${u.origin}${u.pathname}?…` : u.toString();
}

export function deliveryView(r: WebhookDeliveryEntity): Record<string, unknown> {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    id: r.id,
    destinationId: r.destinationId,
    topic: r.topic,
    type: r.noticeType,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.state === "pending" ? iso(r.nextAttemptAt) : null,
    lastStatus: r.lastStatus,
    lastError: r.lastError,
    createdAt: iso(r.createdAt),
    updatedAt: iso(r.updatedAt),
    notice: JSON.parse(r.noticeJson) as unknown,
  };
}

/** Does this destination want this notice? Only decisions an on-call human or a SOAR cares about. */
export function wants(d: WebhookDestinationEntity, n: Notice): boolean {
  if (!d.enabled || !(d.topics as string[]).includes(n.topic)) return false;
  // An alert's count bumps are noise for a pager; the stream has them. (case.updated goes out,
  // throttled per case by WebhookService: it is how a receiver learns a case grew or changed score.)
  if (n.type === "alert.updated") return false;
  if (n.score !== undefined && n.score < d.minScore) return false;
  if (d.ruleTags.length && n.tags && !n.tags.some((t) => d.ruleTags.includes(t))) return false;
  return true;
}

/**
 * Webhook destinations (CRUD, kept in memory for matching) and the delivery queue's API side:
 * enqueueing matches, listing deliveries, retrying dead letters. Sending is the DeliveryWorker's.
 */
export class WebhookService {
  private destinations = new Map<string, WebhookDestinationEntity>();
  private readonly kickListeners: Array<() => void> = [];
  private readonly changeListeners: Array<() => void> = [];
  readonly caseUpdates: CaseUpdateThrottle;

  constructor(
    private readonly repo: WebhookRepository,
    private readonly audit?: AuditSink,
    private readonly now: () => number = Date.now,
    caseUpdateWindowMs = 60_000,
  ) {
    this.caseUpdates = new CaseUpdateThrottle({ windowMs: caseUpdateWindowMs, maxPending: 10_000, now }, (n) => {
      void this.enqueueNow(n).catch(() => undefined);
    });
  }

  async load(): Promise<void> {
    this.destinations = new Map((await this.repo.allDestinations()).map((d) => [d.id, d]));
  }

  /** The worker listens: new deliveries are due now. */
  onEnqueued(l: () => void): void {
    this.kickListeners.push(l);
  }

  /** A destination was created, changed or removed here (other replicas reload theirs). */
  onDestinationsChanged(l: () => void): void {
    this.changeListeners.push(l);
  }

  destination(id: string): WebhookDestinationEntity | undefined {
    return this.destinations.get(id);
  }

  list(): WebhookDestinationEntity[] {
    return [...this.destinations.values()].sort((a, b) => a.createdAt - b.createdAt);
  }

  get(id: string): WebhookDestinationEntity {
    const d = this.destinations.get(id);
    if (!d) throw new WebhookNotFound(`webhook "${id.slice(0, 64)}" not found`);
    return d;
  }

  /** Returns the generated secret once, when the admin did not choose one. */
  async create(body: unknown, actor: string): Promise<{ destination: WebhookDestinationEntity; generatedSecret?: string }> {
    const spec = parseSpec(body);
    const generated = spec.secret ? undefined : randomBytes(32).toString("base64url");
    const now = this.now();
    const d: WebhookDestinationEntity = {
      id: randomUUID(),
      ...spec,
      secret: spec.secret ?? generated!,
      routingKey: spec.routingKey ?? null,
      createdAt: now,
      updatedAt: now,
      createdBy: actor.slice(0, 160),
    };
    await this.repo.insertDestination(d);
    this.destinations.set(d.id, d);
    this.changed();
    await this.audit?.append({ actor, action: "webhook.created", target: `webhook:${d.id}`, details: { name: d.name, format: d.format, topics: d.topics } });
    return { destination: d, generatedSecret: generated };
  }

  async update(id: string, body: unknown, actor: string): Promise<WebhookDestinationEntity> {
    const d = this.get(id);
    const current: WebhookSpec = {
      name: d.name,
      url: d.url,
      format: d.format,
      topics: d.topics as WebhookSpec["topics"],
      minScore: d.minScore,
      ruleTags: d.ruleTags,
      enabled: d.enabled,
      routingKey: d.routingKey,
    };
    const spec = parseSpec(body, current);
    const next: WebhookDestinationEntity = { ...d, ...spec, secret: spec.secret ?? d.secret, routingKey: spec.routingKey ?? null, updatedAt: this.now() };
    await this.repo.saveDestination(next);
    this.destinations.set(id, next);
    this.changed();
    const changed = Object.keys(body as object);
    await this.audit?.append({ actor, action: "webhook.updated", target: `webhook:${id}`, details: { fields: changed } });
    return next;
  }

  async remove(id: string, actor: string): Promise<void> {
    this.get(id);
    await this.repo.removeDestination(id);
    this.destinations.delete(id);
    this.changed();
    await this.audit?.append({ actor, action: "webhook.deleted", target: `webhook:${id}` });
  }

  /** Persists one delivery per interested destination; returns how many (case.updated: how many want it, sent now or at the end of the case's window). */
  async enqueue(n: Notice): Promise<number> {
    if (n.type === "case.updated") {
      const interested = [...this.destinations.values()].filter((d) => wants(d, n)).length;
      if (interested) this.caseUpdates.offer(n);
      return interested;
    }
    return this.enqueueNow(n);
  }

  private async enqueueNow(n: Notice): Promise<number> {
    const targets = [...this.destinations.values()].filter((d) => wants(d, n));
    if (!targets.length) return 0;
    await this.insert(
      targets.map((d) => d.id),
      n,
    );
    return targets.length;
  }

  /** A test delivery to one destination, whatever its filter. */
  async sendTest(id: string, actor: string): Promise<void> {
    const d = this.get(id);
    await this.insert([d.id], { topic: "notify", type: "webhook.test", time: this.now(), data: { message: "test delivery from Vigil", destinationId: d.id, requestedBy: actor } });
    await this.audit?.append({ actor, action: "webhook.test_sent", target: `webhook:${d.id}` });
  }

  async listDeliveries(id: string, state: DeliveryState | undefined, limit: number): Promise<WebhookDeliveryEntity[]> {
    this.get(id);
    return this.repo.deliveriesOf(id, state, limit);
  }

  /** Puts dead letters back in the queue (one, or all of the destination's); returns how many. */
  async retryDead(id: string, deliveryId: number | undefined, actor: string): Promise<number> {
    this.get(id);
    const n = await this.repo.requeueDead(id, deliveryId, this.now());
    if (deliveryId !== undefined && !n) throw new WebhookNotFound(`no dead letter ${deliveryId} for webhook "${id.slice(0, 64)}"`);
    await this.audit?.append({ actor, action: "webhook.dead_letters_retried", target: `webhook:${id}`, details: { count: n, ...(deliveryId !== undefined ? { deliveryId } : {}) } });
    this.kick();
    return n;
  }

  async countByState(): Promise<Record<DeliveryState, number>> {
    const out = Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as Record<DeliveryState, number>;
    for (const r of await this.repo.countByState()) out[r.state] = r.n;
    return out;
  }

  private async insert(destinationIds: string[], n: Notice): Promise<void> {
    const now = this.now();
    const noticeJson = JSON.stringify({
      topic: n.topic,
      type: n.type,
      time: n.time,
      data: n.data,
      ...(n.score !== undefined ? { score: n.score } : {}),
      ...(n.tags ? { tags: n.tags } : {}),
      ...(n.agentId ? { agentId: n.agentId } : {}),
    });
    await this.repo.enqueue(
      destinationIds.map((destinationId) => ({
        destinationId,
        topic: n.topic,
        noticeType: n.type.slice(0, 64),
        noticeJson,
        state: "pending" as const,
        attempts: 0,
        nextAttemptAt: now,
        lastStatus: null,
        lastError: null,
        createdAt: now,
        updatedAt: now,
      })),
    );
    this.kick();
  }

  private changed(): void {
    for (const l of this.changeListeners) l();
  }

  private kick(): void {
    for (const l of this.kickListeners) l();
  }
}
