import { randomUUID } from "node:crypto";
import { suppressionMatches, validateSuppression, type AlertContext, type Suppression } from "@vigil/detection";
import type { SuppressionEntity } from "../database/entities/alert.entity";
import type { SuppressionRepository } from "../database/repositories/suppression-repository";
import type { Stmt } from "../database/sql-batch";

export interface SuppressionView extends Suppression {
  hits: number;
  lastHitAt: string | null;
  expired: boolean;
}

/** A suppression the API refused; `errors` name each bad field. */
export class SuppressionInvalid extends Error {
  constructor(readonly errors: { field: string; message: string }[]) {
    super(errors.map((e) => e.message).join("; "));
  }
}

const toSuppression = (r: SuppressionEntity): Suppression => ({
  id: r.id,
  reason: r.reason,
  ...(r.ruleId !== null ? { ruleId: r.ruleId } : {}),
  ...(r.fields !== null ? { fields: r.fields as Suppression["fields"] } : {}),
  ...(r.agentTags !== null ? { agentTags: r.agentTags } : {}),
  ...(r.expiresAt !== null ? { expiresAtMs: r.expiresAt } : {}),
  createdBy: r.createdBy,
  createdAtMs: r.createdAt,
});

/**
 * Suppressions (allowlist entries) checked before an alert is created. The list lives in memory
 * (matching is per rule match) and hit counts are written back with each pipeline chunk.
 */
export class SuppressionService {
  private list: Suppression[] = [];
  private readonly hits = new Map<string, number>();
  private readonly counts = new Map<string, { hits: number; lastHitAt: number | null }>();
  suppressedMatches = 0;

  constructor(
    private readonly repo: SuppressionRepository,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<void> {
    const rows = await this.repo.all();
    this.list = rows.map(toSuppression);
    for (const r of rows) this.counts.set(r.id, { hits: r.hits, lastHitAt: r.lastHitAt });
  }

  /** The first live suppression matching, counted as a hit. Expiry is judged by wall-clock time. */
  match(ctx: AlertContext): Suppression | undefined {
    const now = this.now();
    const s = this.list.find((x) => suppressionMatches(x, ctx, now));
    if (s) {
      this.suppressedMatches++;
      this.hits.set(s.id, (this.hits.get(s.id) ?? 0) + 1);
      const c = this.counts.get(s.id) ?? { hits: 0, lastHitAt: null };
      this.counts.set(s.id, { hits: c.hits + 1, lastHitAt: now });
    }
    return s;
  }

  takeWrites(): Stmt[] {
    const now = this.now();
    const out = [...this.hits].map(([id, n]) => this.repo.hitsWrite(id, n, now));
    this.hits.clear();
    return out;
  }

  views(): SuppressionView[] {
    const now = this.now();
    return this.list.map((s) => this.view(s, now));
  }

  get(id: string): SuppressionView | undefined {
    const s = this.list.find((x) => x.id === id);
    return s ? this.view(s, this.now()) : undefined;
  }

  /**
   * Validates and stores. Accepts `expiresAt` (ISO 8601) or `expiresAtMs`, or `ttl` seconds; the id
   * is generated when absent.
   */
  async create(raw: unknown, actor: string): Promise<SuppressionView> {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new SuppressionInvalid([{ field: "", message: "body must be a JSON object" }]);
    const body: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
    const known = ["id", "ruleId", "fields", "agentTags", "expiresAt", "expiresAtMs", "reason"];
    const unknown = Object.keys(body).filter((k) => !known.includes(k));
    if (unknown.length) throw new SuppressionInvalid(unknown.map((k) => ({ field: k, message: `${k}: unknown field; allowed: ${known.join(", ")}` })));
    if (body.expiresAt !== undefined) {
      const ms = typeof body.expiresAt === "string" ? Date.parse(body.expiresAt) : NaN;
      if (!Number.isFinite(ms)) throw new SuppressionInvalid([{ field: "expiresAt", message: "expiresAt: must be an ISO 8601 time" }]);
      body.expiresAtMs = ms;
      delete body.expiresAt;
    }
    body.id ??= randomUUID();
    if (typeof body.id === "string" && (body.id.length > 64 || this.list.some((s) => s.id === body.id))) {
      throw new SuppressionInvalid([{ field: "id", message: `id: '${body.id.slice(0, 64)}' is taken or longer than 64 characters` }]);
    }
    const check = validateSuppression(body);
    if (!check.ok) throw new SuppressionInvalid(check.errors);
    const s: Suppression = { ...check.suppression, createdBy: actor, createdAtMs: this.now() };
    await this.repo.insert({
      id: s.id,
      ruleId: s.ruleId ?? null,
      fields: (s.fields as Record<string, unknown> | undefined) ?? null,
      agentTags: s.agentTags ?? null,
      expiresAt: s.expiresAtMs ?? null,
      reason: s.reason,
      createdBy: actor,
      createdAt: s.createdAtMs!,
      hits: 0,
      lastHitAt: null,
    });
    this.list.push(s);
    this.counts.set(s.id, { hits: 0, lastHitAt: null });
    return this.view(s, this.now());
  }

  async remove(id: string): Promise<boolean> {
    const removed = await this.repo.remove(id);
    this.list = this.list.filter((s) => s.id !== id);
    return removed;
  }

  private view(s: Suppression, now: number): SuppressionView {
    const c = this.counts.get(s.id) ?? { hits: 0, lastHitAt: null };
    return { ...s, hits: c.hits, lastHitAt: c.lastHitAt ? new Date(c.lastHitAt).toISOString() : null, expired: s.expiresAtMs !== undefined && now >= s.expiresAtMs };
  }
}
