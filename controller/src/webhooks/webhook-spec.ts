import { WEBHOOK_TOPICS, type WebhookTopic } from "../integrations/notices";
import { WEBHOOK_FORMATS, type WebhookFormat } from "../database/entities/webhook.entities";

export class WebhookInputError extends Error {}

/** What an admin sends to create or change a destination; on update every field is optional. */
export interface WebhookSpec {
  name: string;
  url: string;
  format: WebhookFormat;
  topics: WebhookTopic[];
  minScore: number;
  ruleTags: string[];
  enabled: boolean;
  /** HMAC secret; generated on create when absent. */
  secret?: string;
  routingKey?: string | null;
}

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";
export const SPEC_FIELDS = ["name", "url", "format", "topics", "minScore", "ruleTags", "enabled", "secret", "routingKey"] as const;
/** Raw telemetry does not go to webhooks (volume); commands and agent changes do not page anyone. */
const PAGERDUTY_TOPICS: readonly WebhookTopic[] = ["alerts", "cases", "notify"];

function fail(msg: string): never {
  throw new WebhookInputError(msg);
}

function text(b: Record<string, unknown>, k: string, max: number, min = 1): string | undefined {
  const v = b[k];
  if (v === undefined) return undefined;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (typeof v !== "string" || v.length < min || v.length > max || /[\u0000-\u001f]/.test(v)) fail(`field "${k}" must be a string of ${min} to ${max} printable characters`);
  return v;
}

function checkUrl(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    fail(`field "url" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") fail(`field "url" must be http(s), got "${url.protocol}"`);
  if (url.username || url.password) fail(`field "url" must not carry credentials; use the signature secret or a token in the path`);
  return url.toString();
}

/**
 * Validates a create (all required fields present) or an update (a partial patch merged onto
 * `current`); throws WebhookInputError naming the field.
 */
export function parseSpec(body: unknown, current?: WebhookSpec): WebhookSpec {
  if (!body || typeof body !== "object" || Array.isArray(body)) fail("request body must be a JSON object");
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!(SPEC_FIELDS as readonly string[]).includes(k)) fail(`unknown field "${k.slice(0, 64)}"; allowed: ${SPEC_FIELDS.join(", ")}`);

  const format = (b.format ?? current?.format ?? "generic") as WebhookFormat;
  if (!WEBHOOK_FORMATS.includes(format)) fail(`field "format" must be one of ${WEBHOOK_FORMATS.join(", ")}`);
  const name = text(b, "name", 128) ?? current?.name ?? fail(`field "name" is required`);
  const rawUrl = text(b, "url", 2048) ?? current?.url ?? (format === "pagerduty" ? PAGERDUTY_EVENTS_URL : fail(`field "url" is required`));

  let topics = current?.topics ?? (["alerts", "cases"] as WebhookTopic[]);
  if (b.topics !== undefined) {
    if (!Array.isArray(b.topics) || b.topics.length === 0 || !b.topics.every((t) => typeof t === "string" && (WEBHOOK_TOPICS as readonly string[]).includes(t))) {
      fail(`field "topics" must be a non-empty list of ${WEBHOOK_TOPICS.join(", ")}`);
    }
    topics = [...new Set(b.topics as WebhookTopic[])];
  }
  if (format === "pagerduty") {
    const bad = topics.find((t) => !PAGERDUTY_TOPICS.includes(t));
    if (bad) fail(`field "topics": a pagerduty destination takes ${PAGERDUTY_TOPICS.join(", ")}, not "${bad}"`);
  }

  let minScore = current?.minScore ?? 0;
  if (b.minScore !== undefined) {
    if (typeof b.minScore !== "number" || !Number.isInteger(b.minScore) || b.minScore < 0 || b.minScore > 100) fail(`field "minScore" must be an integer from 0 to 100`);
    minScore = b.minScore;
  }
  let ruleTags = current?.ruleTags ?? [];
  if (b.ruleTags !== undefined) {
    if (!Array.isArray(b.ruleTags) || b.ruleTags.length > 50 || !b.ruleTags.every((t) => typeof t === "string" && t.length > 0 && t.length <= 128))
      fail(`field "ruleTags" must be a list of at most 50 tags (e.g. "attack.t1110")`);
    ruleTags = b.ruleTags as string[];
  }
  let enabled = current?.enabled ?? true;
  if (b.enabled !== undefined) {
    if (typeof b.enabled !== "boolean") fail(`field "enabled" must be true or false`);
    enabled = b.enabled;
  }
  const secret = text(b, "secret", 256, 16);
  const routingKey = text(b, "routingKey", 256) ?? current?.routingKey ?? null;
  if (format === "pagerduty" && !routingKey) fail(`field "routingKey" is required for a pagerduty destination (the integration key of a PagerDuty service)`);
  return { name, url: checkUrl(rawUrl), format, topics, minScore, ruleTags, enabled, ...(secret ? { secret } : {}), routingKey: format === "pagerduty" ? routingKey : null };
}
