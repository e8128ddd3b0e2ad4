import { dedupKey, entityKey, type DeviationReason, type EntityKind, type EntityRef, type Match, type SigmaEvent } from "@vigil/detection";
import { eventMeta, type PipelineMatch } from "../detection/event-meta";
import type { AlertIocHit, EventRef } from "../database/entities/alert.entity";
import { keepEventFields, keepEventRefs, MAX_EVENT_FIELDS } from "./event-refs";

/** Everything about one rule match that alerting needs, derived once. */
export interface AlertCandidate {
  pm: PipelineMatch;
  ruleId: string;
  primary: EntityRef;
  entities: EntityRef[];
  dedupKey: string;
  /**
   * Correlation firings (not their updates): the correlation, its group-by values and its window,
   * which name the firing whichever process or replay computed it (see CorrelationFiringRepository).
   */
  firingKey?: string;
  firstSeenMs: number;
  timeMs: number;
  eventRefs: EventRef[];
  eventFields: Record<string, unknown>[];
  iocHits: AlertIocHit[];
  deviations: DeviationReason[];
  /** Flat fields for suppressions: each field's values across the matched events (and group-by). */
  contextFields: Record<string, string | number | boolean | (string | number | boolean)[]>;
}

const MAX_ENTITIES = 20;

const IP_FIELDS = ["SourceIp", "DestinationIp", "IpAddress", "ClientIp", "RemoteIp"];
const USER_FIELDS = ["User", "TargetUser", "TargetUserName", "SubjectUserName"];

const scalar = (v: unknown): v is string | number | boolean => typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/**
 * Entities of a match: the host always (the agent), then users and IPs. For a connection only the
 * remote side is an entity (the local address is the host itself).
 */
function entitiesOf(agentId: string, events: readonly SigmaEvent[], groupBy: Record<string, unknown> | undefined): EntityRef[] {
  const seen = new Map<string, EntityRef>();
  const add = (kind: EntityKind, id: unknown) => {
    if (!scalar(id) || String(id) === "" || seen.size >= MAX_ENTITIES) return;
    const e = { kind, id: String(id) };
    seen.set(entityKey(e), e);
  };
  add("host", agentId);
  // A correlation's events may come from several hosts (correlations are cross-host): each is an entity.
  for (const ev of events) if (ev.fields.AgentId !== agentId) add("host", ev.fields.AgentId);
  for (const [k, v] of Object.entries(groupBy ?? {})) {
    if (IP_FIELDS.includes(k)) add("ip", v);
    else if (USER_FIELDS.includes(k)) add("user", v);
  }
  for (const ev of events) {
    const f = ev.fields;
    add("user", f.User);
    if (f.Initiated === "true") add("ip", f.DestinationIp);
    else add("ip", f.SourceIp);
  }
  return [...seen.values()];
}

/**
 * What the alert is about. Group-by fields say it for correlations (a brute force is about its
 * source IP); otherwise an IOC'd address, otherwise the host.
 */
function primaryOf(agentId: string, entities: EntityRef[], groupBy: Record<string, unknown> | undefined, iocHits: AlertIocHit[]): EntityRef {
  const gb = groupBy ?? {};
  const ipField = IP_FIELDS.find((k) => scalar(gb[k]) && gb[k] !== "");
  if (ipField) return { kind: "ip", id: String(gb[ipField]) };
  const userField = USER_FIELDS.find((k) => scalar(gb[k]) && gb[k] !== "");
  if (userField) return { kind: "user", id: String(gb[userField]) };
  if (iocHits.some((h) => h.kind === "ip" || h.kind === "cidr")) {
    const ip = entities.find((e) => e.kind === "ip");
    if (ip) return ip;
  }
  return { kind: "host", id: agentId };
}

/** See AlertCandidate.firingKey. */
export function firingKeyOf(m: Match): string | undefined {
  const w = m.dedupWindow ?? m.window;
  if (m.kind !== "correlation" || m.update || !w) return undefined;
  return `${m.rule.id}|${JSON.stringify(m.groupBy ?? {})}|${w.startMs}`;
}

export function buildCandidate(pm: PipelineMatch): AlertCandidate {
  const m = pm.match;
  const events = m.events;
  const iocMap = new Map<string, AlertIocHit>();
  const deviations = new Map<string, DeviationReason>();
  for (const ev of events) {
    const meta = eventMeta(ev);
    for (const h of meta?.iocHits ?? []) iocMap.set(`${h.kind}|${h.value}|${h.source}`, h);
    for (const d of meta?.deviations ?? []) deviations.set(`${d.kind}|${d.detail}`, d);
  }
  const iocHits = [...iocMap.values()];
  const entities = entitiesOf(pm.agentId, events, m.groupBy);
  const primary = primaryOf(pm.agentId, entities, m.groupBy, iocHits);
  // Primary first, so list views and case titles lead with it.
  const ordered = [primary, ...entities.filter((e) => entityKey(e) !== entityKey(primary))];
  const contextFields: AlertCandidate["contextFields"] = {};
  const collect = (k: string, v: unknown) => {
    if (!scalar(v)) return;
    const cur = contextFields[k];
    if (cur === undefined) contextFields[k] = v;
    else if (Array.isArray(cur)) {
      if (!cur.includes(v) && cur.length < 20) cur.push(v);
    } else if (cur !== v) contextFields[k] = [cur, v];
  };
  for (const [k, v] of Object.entries(m.groupBy ?? {})) collect(k, v);
  for (const ev of events.slice(0, MAX_EVENT_FIELDS)) for (const [k, v] of Object.entries(ev.fields)) collect(k, v);
  collect("AgentId", pm.agentId);
  const times = events.map((e) => e.timeMs).filter((t) => Number.isFinite(t));
  return {
    pm,
    ruleId: m.rule.id,
    primary,
    entities: ordered,
    // Single-event alerts are per host as well: the same IP scanning two hosts is two alerts (then
    // one case). A correlation is already across hosts: its group is the key.
    dedupKey: m.kind === "correlation" ? `${dedupKey(m.rule.id, primary)}|group:${JSON.stringify(m.groupBy ?? {})}` : `${dedupKey(m.rule.id, primary)}|agent:${pm.agentId}`,
    firingKey: firingKeyOf(m),
    firstSeenMs: Math.min(m.timeMs, ...times),
    timeMs: m.timeMs,
    // A correlation over many events keeps its first and its newest, as merges do.
    eventRefs: keepEventRefs(
      [],
      events
        .filter((e) => typeof e.fields.EventSeq === "number")
        .map((e) => ({ agentId: typeof e.fields.AgentId === "string" ? e.fields.AgentId : pm.agentId, seq: e.fields.EventSeq as number, timeMs: e.timeMs })),
    ),
    eventFields: keepEventFields(
      [],
      events.map((e) => ({ ...e.fields })),
    ),
    iocHits,
    deviations: [...deviations.values()],
    contextFields,
  };
}
