import type { Notice, StreamTopic } from "../integrations/notices";

export const EVENT_TYPES = ["process", "file", "network", "auth", "agent", "audit", "log", "dns"] as const;

/** What a subscriber may narrow a topic to; every field is optional and they combine with AND. */
export interface StreamFilter {
  /** Agent ids (any of). */
  agent?: string[];
  /** Event types (any of); events topic only. */
  type?: string[];
  /** Alerts and cases only. */
  minScore?: number;
  /** Rule tags (any of); alerts only. */
  tags?: string[];
}

/** Which filter fields make sense on which topic: asking for others is an error, not a no-op. */
const ALLOWED: Record<StreamTopic, ReadonlyArray<keyof StreamFilter>> = {
  events: ["agent", "type"],
  alerts: ["agent", "minScore", "tags"],
  cases: ["minScore"],
  commands: ["agent"],
  agents: ["agent"],
};

export class FilterError extends Error {}

function stringList(v: unknown, name: string, max: number): string[] {
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.length > max || !list.every((x) => typeof x === "string" && x.length > 0 && x.length <= 256)) {
    throw new FilterError(`filter "${name}" must be a string or a list of 1 to ${max} non-empty strings`);
  }
  return list as string[];
}

/** Validates a client's filter for a topic; throws FilterError naming the problem. */
export function parseFilter(topic: StreamTopic, raw: unknown): StreamFilter {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) throw new FilterError(`"filter" must be an object`);
  const allowed = ALLOWED[topic];
  const f: StreamFilter = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!(allowed as readonly string[]).includes(k)) throw new FilterError(`filter "${k.slice(0, 32)}" does not apply to topic "${topic}"; allowed: ${allowed.join(", ")}`);
    if (k === "minScore") {
      if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 100) throw new FilterError(`filter "minScore" must be a number from 0 to 100`);
      f.minScore = v;
    } else if (k === "type") {
      const types = stringList(v, k, EVENT_TYPES.length);
      const bad = types.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
      if (bad) throw new FilterError(`filter "type": unknown event type "${bad.slice(0, 32)}"; known: ${EVENT_TYPES.join(", ")}`);
      f.type = types;
    } else {
      f[k as "agent" | "tags"] = stringList(v, k, 100);
    }
  }
  return f;
}

export function matches(f: StreamFilter, n: Notice): boolean {
  if (f.agent && (!n.agentId || !f.agent.includes(n.agentId))) return false;
  if (f.type && (!n.eventType || !f.type.includes(n.eventType))) return false;
  // Alert merges carry no score; a score filter passes them only if the subscriber saw the alert created.
  if (f.minScore !== undefined && (n.score === undefined || n.score < f.minScore)) return false;
  if (f.tags && !(n.tags ?? []).some((t) => f.tags!.includes(t))) return false;
  return true;
}
