import type { AgentRegistry } from "../agents/agent-registry";
import type { AlertNotice, AlertService } from "../alerts/alert-service";
import type { CaseNotice, CaseService } from "../cases/case-service";
import { commandView, type CommandService } from "../commands/command-service";
import type { IngestWriter, StoredBatch } from "../ingest/ingest-writer";
import { splitClockMark } from "../database/repositories/event-row";
import type { PlaybookService } from "../playbooks/playbook-service";
import type { Notice } from "./notices";

const iso = (ms: number) => new Date(ms).toISOString();

export interface NoticeSources {
  writer: Pick<IngestWriter, "onStored">;
  registry: Pick<AgentRegistry, "onConnectionChange">;
  commands: Pick<CommandService, "onChange">;
  alerts: Pick<AlertService, "onAlert">;
  cases: Pick<CaseService, "onCase">;
  playbooks: Pick<PlaybookService, "onNotify">;
}

/** Turns every committed domain change into a Notice for the stream and the webhooks. */
export function listenForNotices(src: NoticeSources, emit: (n: Notice) => void, now: () => number = Date.now): void {
  src.writer.onStored((batch) => eventNotices(batch, now()).forEach(emit));
  src.registry.onConnectionChange((agentId, online) => emit({ topic: "agents", type: online ? "agent.online" : "agent.offline", time: now(), agentId, data: { agentId, online } }));
  src.commands.onChange((c) => emit({ topic: "commands", type: `command.${c.state}`, time: now(), agentId: c.agentId, data: commandView(c) }));
  src.alerts.onAlert((a) => emit(alertNotice(a, now())));
  src.cases.onCase((c) => emit(caseNotice(c, now())));
  src.playbooks.onNotify((n) =>
    emit({
      topic: "notify",
      type: "notify",
      time: now(),
      agentId: n.alert.agentId,
      score: n.alert.score,
      tags: n.alert.ruleTags,
      data: {
        playbookId: n.playbookId,
        params: n.params,
        alert: {
          id: n.alert.id,
          ruleId: n.alert.ruleId,
          ruleTitle: n.alert.ruleTitle,
          ruleTags: n.alert.ruleTags,
          score: n.alert.score,
          agentId: n.alert.agentId,
          caseId: n.alert.caseId,
          entity: { kind: n.alert.entityKind, value: n.alert.entityValue },
        },
      },
    }),
  );
}

function eventNotices(batch: StoredBatch, time: number): Notice[] {
  const out: Notice[] = [];
  batch.rows.forEach((row, i) => {
    if (!batch.fresh[i]) return;
    let data: Record<string, unknown> | undefined;
    out.push({
      topic: "events",
      type: `event.${row.type}`,
      time,
      agentId: row.agentId,
      eventType: row.type,
      // Parsed only if a client or the replay buffer's serialization asks: most events are never watched.
      get data() {
        if (!data) {
          const { body, clock } = splitClockMark(JSON.parse(row.data) as Record<string, unknown>);
          data = { agentId: row.agentId, seq: row.seq, type: row.type, action: row.action, eventTime: iso(row.eventTime), receivedAt: iso(row.receivedAt), ...clock, [row.type]: body };
        }
        return data;
      },
    });
  });
  return out;
}

export function alertNotice(a: AlertNotice, time: number): Notice {
  const data: Record<string, unknown> =
    a.change === "created"
      ? {
          id: a.id,
          ruleId: a.ruleId,
          ruleTitle: a.ruleTitle,
          level: a.level,
          tags: a.tags,
          score: a.score,
          count: a.count,
          agentId: a.agentId,
          hostname: a.hostname,
          entity: { kind: a.entityKind, value: a.entityValue },
          caseId: a.caseId,
          firstSeen: iso(a.firstSeen),
          lastSeen: iso(a.lastSeen),
        }
      : { id: a.id, count: a.count, firstSeen: iso(a.firstSeen), lastSeen: iso(a.lastSeen) };
  return { topic: "alerts", type: `alert.${a.change}`, time, data, ...(a.change === "created" ? { agentId: a.agentId, score: a.score ?? 0, tags: a.tags } : {}) };
}

export function caseNotice(c: CaseNotice, time: number): Notice {
  return {
    topic: "cases",
    type: `case.${c.change}`,
    time,
    score: c.score,
    data: { id: c.id, title: c.title, state: c.state, verdict: c.verdict, score: c.score, alertCount: c.alertCount, firstSeen: iso(c.firstSeen), lastSeen: iso(c.lastSeen) },
  };
}
