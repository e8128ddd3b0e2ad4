import { entityViews } from "../agents/host-names";
import type { AlertEntity } from "../database/entities/alert.entity";
import type { AlertFilter, AlertRepository } from "../database/repositories/alert-repository";
import { newestEventRef } from "./event-refs";

export type { AlertFilter };

const iso = (ms: number) => new Date(ms).toISOString();

export function alertView(a: AlertEntity): Record<string, unknown> {
  return {
    id: a.id,
    rule: { id: a.ruleId, title: a.ruleTitle, level: a.ruleLevel, tags: a.ruleTags },
    kind: a.kind,
    correlationType: a.correlationType,
    agentId: a.agentId,
    hostname: a.hostname,
    // A host entity is the alert's own agent: it carries the hostname the alert was raised with.
    entity: a.entityKind === "host" ? { kind: a.entityKind, value: a.entityValue, hostname: a.entityValue === a.agentId ? a.hostname : "" } : { kind: a.entityKind, value: a.entityValue },
    entities: entityViews(a.entities, new Map([[a.agentId, a.hostname]])),
    dedupKey: a.dedupKey,
    score: a.score,
    breakdown: a.breakdown,
    count: a.count,
    firstSeen: iso(a.firstSeen),
    lastSeen: iso(a.lastSeen),
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
    state: a.state,
    verdict: a.verdict,
    caseId: a.caseId,
    groupBy: a.groupBy,
    iocHits: a.iocHits,
    eventRefs: a.eventRefs,
    newestEventRef: newestEventRef(a.eventRefs),
    events: a.eventFields,
  };
}

/** Alert reads for the API (not on the detection path). */
export class AlertQuery {
  constructor(private readonly alerts: Pick<AlertRepository, "byId" | "page" | "byCase">) {}

  list(f: AlertFilter): Promise<AlertEntity[]> {
    return this.alerts.page(f);
  }

  get(id: string): Promise<AlertEntity | null> {
    return this.alerts.byId(id);
  }

  byCase(caseId: string): Promise<AlertEntity[]> {
    return this.alerts.byCase(caseId);
  }
}
