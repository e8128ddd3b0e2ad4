import { useEffect, useState } from "preact/hooks";
import type { Agent, CaseStory, Command, TimelineEntry, Verdict } from "../api/types";
import { AlertCard, EntityText } from "../components/alert-card";
import { Approvals } from "../components/approvals";
import { ScoreBadge, StateBadge } from "../components/badges";
import { CaseActions } from "../components/case-actions";
import { CaseTitle } from "../components/case-title";
import { Evidence } from "../components/evidence";
import { HostActions } from "../components/host-actions";
import { CommandResult } from "../components/command-result";
import { Loading, PageError } from "../components/states";
import { Timeline } from "../components/timeline";
import { useSession } from "../lib/context";
import { HostName } from "../components/host-name";
import { Time } from "../components/time";
import { humanize } from "../lib/format";
import { hostLabel, hostLabels } from "../lib/hosts";
import { href } from "../lib/router";
import { useResource } from "../lib/use-resource";
import { isIsolated } from "./hosts";

/** Response actions join the story at the time they were issued and finished, unless the server already tells them. */
function withActions(timeline: TimelineEntry[], commands: Command[], hostOf: (id: string) => string): TimelineEntry[] {
  const known = new Set(timeline.map((e) => e.ref?.commandId).filter(Boolean));
  const extra: TimelineEntry[] = [];
  for (const c of commands) {
    if (known.has(c.id)) continue;
    if (c.issuedAt) extra.push({ time: c.issuedAt, kind: "response", summary: `${humanize(c.type)} on ${hostOf(c.agentId)} requested by ${c.local ? "the agent" : (c.requestedBy ?? "unknown")}` });
    if (c.finishedAt) extra.push({ time: c.finishedAt, kind: "response", summary: `${humanize(c.type)} on ${hostOf(c.agentId)}: ${c.state}${c.reason ? ` (${c.reason})` : ""}` });
  }
  return [...timeline, ...extra].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

function CaseHeader({ c, onChanged, labels }: { c: CaseStory; onChanged: () => void; labels: ReadonlyMap<string, string> }) {
  const { api } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const set = async (state: "acknowledged" | "resolved", verdict?: Verdict) => {
    setBusy(true);
    setError(null);
    try {
      await api.setCaseState(c.id, state, verdict);
      onChanged();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <header class="case-header">
      <a class="back" href={href(["alerts"])}>
        ← Alert queue
      </a>
      <div class="case-title-row">
        <ScoreBadge score={c.score} />
        <div>
          <CaseTitle id={c.id} title={c.title} onChanged={onChanged} />
          <div class="meta">
            <StateBadge state={c.state} verdict={c.verdict} /> · {c.alertCount} {c.alertCount === 1 ? "alert" : "alerts"} · <Time at={c.firstSeen} /> → <Time at={c.lastSeen} />
          </div>
          <ul class="chips" aria-label="Entities">
            {c.entities.map((e) => (
              <li key={`${e.kind}:${e.value}`} class="chip">
                <EntityText e={e} hostLabels={labels} />
              </li>
            ))}
          </ul>
        </div>
        <div class="case-buttons" role="group" aria-label="Case state">
          {c.state === "new" && (
            <button type="button" class="btn" disabled={busy} onClick={() => void set("acknowledged")}>
              Acknowledge
            </button>
          )}
          {c.state !== "resolved" ? (
            <>
              <button type="button" class="btn btn-danger" disabled={busy} onClick={() => void set("resolved", "true_positive")}>
                Resolve: true positive
              </button>
              <button type="button" class="btn" disabled={busy} onClick={() => void set("resolved", "false_positive")}>
                Resolve: false positive
              </button>
            </>
          ) : (
            c.resolvedBy && <span class="muted small">resolved by {c.resolvedBy}</span>
          )}
        </div>
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </header>
  );
}

/** The hosts this case is about, with their containment controls next to the evidence. */
function CaseHosts({ agents, commands, caseId, onIssued, labels }: { agents: Agent[]; commands: Command[]; caseId: string; onIssued: () => void; labels: ReadonlyMap<string, string> }) {
  const [issued, setIssued] = useState<Record<string, Command>>({});
  if (!agents.length) return null;
  return (
    <section class="panel" aria-labelledby="case-hosts-title">
      <h2 id="case-hosts-title">Hosts</h2>
      <ul class="plain">
        {agents.map((a) => {
          const last = commands.find((c) => c.agentId === a.id && (c.type === "isolate" || c.type === "release"));
          const iso = isIsolated(a, last);
          const mine = issued[a.id];
          return (
            <li key={a.id} class="case-host">
              <div class="case-host-row">
                <div>
                  <strong>
                    <HostName id={a.id} hostname={a.hostname} labels={labels} />
                  </strong>{" "}
                  <span class="muted small">{a.online ? "online" : "offline"}</span>
                  {iso && <span class="badge isolated">isolated</span>}
                </div>
                <HostActions
                  agentId={a.id}
                  hostname={hostLabel(labels, a.id, a.hostname)}
                  isolated={iso}
                  busy={!!mine && mine.id !== last?.id}
                  caseId={caseId}
                  onIssued={(c) => setIssued((m) => ({ ...m, [a.id]: c }))}
                />
              </div>
              {mine && <CommandResult key={mine.id} command={mine} onFinish={onIssued} />}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

export function CasePage({ id, focusAlert }: { id: string; focusAlert?: string }) {
  const { api } = useSession();
  const story = useResource(() => api.caseStory(id), `case:${id}`, ["cases", "alerts"]);
  const commands = useResource(() => api.commands({ case: id, limit: 200 }), `commands:${id}`, ["commands"]);
  const decisions = useResource(() => api.playbookActions({ case: id, limit: 200 }), `pb:${id}`, ["commands", "cases"]);
  const agents = useResource(() => api.agents(), "agents", ["agents"]);

  // Arriving from the queue: bring the alert that was clicked into view.
  useEffect(() => {
    if (!focusAlert || !story.data) return;
    const el = document.getElementById(`alert-${focusAlert}`);
    el?.scrollIntoView({ block: "nearest" });
  }, [focusAlert, !!story.data]);

  if (story.error && !story.data) return <PageError what="the case" error={story.error} />;
  if (!story.data) return <Loading what="the case" />;
  const c = story.data;
  const agentList = agents.data?.items ?? [];
  // Hosts by name, disambiguated across the fleet (and the case's hosts the agent list no longer has).
  const caseHosts = c.entities.filter((e) => e.kind === "host").map((e) => ({ id: e.value, hostname: e.hostname }));
  const labels = hostLabels([...agentList, ...caseHosts.filter((h) => !agentList.some((a) => a.id === h.id))]);
  const hostOf = (agentId: string) => hostLabel(labels, agentId);
  const caseAgents = agentList.filter((a) => c.alerts.some((x) => x.agentId === a.id));
  const cmds = commands.data?.items ?? [];
  const pending = (decisions.data?.items ?? []).filter((d) => d.state === "pending");
  const refresh = () => {
    story.reload();
    commands.reload();
    decisions.reload();
    agents.reload();
  };
  const alerts = [...c.alerts].sort((a, b) => b.score - a.score);

  return (
    <article class="case" aria-labelledby="case-title">
      <CaseHeader c={c} onChanged={refresh} labels={labels} />
      <div class="case-grid">
        <div class="case-main">
          <section class="panel" aria-labelledby="case-alerts-title">
            <h2 id="case-alerts-title">Alerts and why they scored</h2>
            {alerts.map((a) => (
              <AlertCard key={a.id} alert={a} highlighted={a.id === focusAlert} onChanged={refresh} hostLabels={labels} />
            ))}
          </section>
          <section class="panel" aria-labelledby="timeline-title">
            <h2 id="timeline-title">Timeline</h2>
            <Timeline entries={withActions(c.timeline, cmds, hostOf)} hostLabels={labels} showHost={caseHosts.length > 1} />
          </section>
        </div>
        <aside class="case-side" aria-label="Response">
          {pending.length > 0 && <Approvals pending={pending} hostOf={hostOf} onDecided={refresh} />}
          <CaseHosts agents={caseAgents} commands={cmds} caseId={c.id} onIssued={refresh} labels={labels} />
          <CaseActions commands={cmds} decisions={decisions.data?.items ?? []} hostOf={hostOf} />
          <Evidence commands={cmds} hostOf={hostOf} />
        </aside>
      </div>
    </article>
  );
}
