import type { AlertEntity, EventRef } from "../database/entities/alert.entity";
import { newestEventRef } from "../alerts/event-refs";
import type { EventStore } from "../database/repositories/event-store";
import { splitClockMark } from "../database/repositories/event-row";
import { headline, labelledFields, type LabelledField } from "./event-fields";

export interface TimelineEntry {
  /** Event time, ISO 8601. */
  time: string;
  kind: string;
  summary: string;
  ref?: Record<string, unknown>;
  /** What the entry says, labelled per event kind (image, command line, PID, user, …). */
  fields?: LabelledField[];
  data?: Record<string, unknown>;
}

/** What a timeline source gets: the case and its alerts (oldest first). */
export interface TimelineContext {
  caseId: string;
  alerts: AlertEntity[];
}

/** One contributor to a case timeline: events, alert raises, and later response actions and evidence. */
export interface TimelineSource {
  readonly name: string;
  entries(ctx: TimelineContext): Promise<TimelineEntry[]>;
}

const MAX_EVENTS = 500;

/** The telemetry behind the case's alerts, fetched by their (agent, seq) references. */
export class EventTimelineSource implements TimelineSource {
  readonly name = "events";
  constructor(private readonly events: Pick<EventStore, "bySeqs">) {}

  async entries(ctx: TimelineContext): Promise<TimelineEntry[]> {
    const byAgent = new Map<string, Set<number>>();
    let n = 0;
    const take = (r: EventRef) => {
      const set = byAgent.get(r.agentId) ?? new Set<number>();
      if (set.has(r.seq) || n >= MAX_EVENTS) return;
      n++;
      set.add(r.seq);
      byAgent.set(r.agentId, set);
    };
    // Every alert's newest event first, so a case of many alerts still shows what each saw last.
    for (const a of ctx.alerts) {
      const newest = newestEventRef(a.eventRefs);
      if (newest) take(newest);
    }
    for (const a of ctx.alerts) for (const r of a.eventRefs as EventRef[]) take(r);
    const out: TimelineEntry[] = [];
    const hostnames = new Map(ctx.alerts.map((a) => [a.agentId, a.hostname]));
    for (const [agentId, seqs] of byAgent) {
      const list = [...seqs];
      for (const r of await this.events.bySeqs(agentId, list)) {
        // An event whose host clock was off sits at its receive time; what the host said rides in ref.
        const { body, clock } = splitClockMark(r.data);
        const type = r.type;
        const head = headline(type, body).slice(0, 300);
        out.push({
          time: new Date(r.eventTime).toISOString(),
          kind: `event.${type}`,
          summary: `${type} ${r.action}${head ? `: ${head}` : ""}`,
          ref: { agentId: r.agentId, hostname: hostnames.get(r.agentId) ?? "", seq: r.seq, ...clock },
          fields: labelledFields(type, body),
          data: body,
        });
      }
    }
    return out;
  }
}

/** When each alert was raised (its first matching event) and how often it repeated. */
export class AlertTimelineSource implements TimelineSource {
  readonly name = "alerts";
  async entries(ctx: TimelineContext): Promise<TimelineEntry[]> {
    return ctx.alerts.map((a) => {
      // A host entity is named by its hostname; times stay out of the text (the console formats them).
      const on = a.entityKind === "host" ? `host ${a.hostname || a.entityValue}` : `${a.entityKind} ${a.entityValue}`;
      const fields: LabelledField[] = [
        { label: "Rule", value: a.ruleTitle },
        { label: "Level", value: a.ruleLevel },
        { label: "Score", value: String(a.score) },
        { label: "Host", value: a.hostname || a.agentId },
        { label: "Matches", value: String(a.count) },
      ];
      return {
        time: new Date(a.firstSeen).toISOString(),
        kind: "alert",
        summary: `${a.ruleTitle} (${a.ruleLevel}, score ${a.score}) on ${on}${a.count > 1 ? `, ${a.count} times` : ""}`,
        ref: { alertId: a.id, agentId: a.agentId, hostname: a.hostname, lastSeen: new Date(a.lastSeen).toISOString() },
        fields,
      };
    });
  }
}

/**
 * Builds a case's story in event-time order from its sources. Others register more sources
 * (response actions, collected evidence) with `addSource`; a failing source is reported in the
 * timeline rather than hiding the rest.
 */
export class CaseTimeline {
  private readonly sources: TimelineSource[] = [];

  addSource(s: TimelineSource): void {
    this.sources.push(s);
  }

  async build(ctx: TimelineContext): Promise<TimelineEntry[]> {
    const parts = await Promise.all(
      this.sources.map((s) => s.entries(ctx).catch((err: unknown) => [{ time: new Date().toISOString(), kind: "error", summary: `timeline source ${s.name} failed: ${String(err)}` }])),
    );
    // Stable: same time keeps source order (events before the alert they raised).
    return parts.flat().sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }
}
