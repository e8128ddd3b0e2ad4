import { VerdictButtons } from "../components/verdict-buttons";
import type { Api } from "../api/client";
import type { AlertDetail, EventRef, TelemetryEvent } from "../api/types";
import { LevelBadge, ScoreBadge, StateBadge } from "../components/badges";
import { EntityText } from "../components/alert-card";
import { Breakdown } from "../components/breakdown";
import { aroundHref, EventDetail } from "../components/event-detail";
import { HostName } from "../components/host-name";
import { Loading, PageError } from "../components/states";
import { Time } from "../components/time";
import { useSession } from "../lib/context";
import { summaryOf } from "../lib/event-view";
import { hostLabel, hostLabels } from "../lib/hosts";
import { href } from "../lib/router";
import { useResource } from "../lib/use-resource";

/** The API's bound on `seq=` per request (controller/src/api/event-seq-filter.ts). */
const SEQS_PER_REQUEST = 100;
/** How far before the first and after the last match "events around this alert" reaches. */
const AROUND_MS = 15 * 60_000;

/** The stored events an alert references, newest first: one request per host and hundred references. */
export async function matchedEvents(api: Api, refs: EventRef[]): Promise<TelemetryEvent[]> {
  const byAgent = new Map<string, number[]>();
  for (const r of refs) byAgent.set(r.agentId, [...(byAgent.get(r.agentId) ?? []), r.seq]);
  const pages: Promise<TelemetryEvent[]>[] = [];
  for (const [agent, seqs] of byAgent) {
    for (let i = 0; i < seqs.length; i += SEQS_PER_REQUEST) {
      const chunk = seqs.slice(i, i + SEQS_PER_REQUEST);
      pages.push(api.events({ agent, seq: chunk.join(","), limit: chunk.length }).then((p) => p.items));
    }
  }
  const all = (await Promise.all(pages)).flat();
  return all.sort((a, b) => Date.parse(b.eventTime) - Date.parse(a.eventTime) || b.seq - a.seq);
}

function Feedback({ a }: { a: AlertDetail }) {
  return (
    <div class="feedback">
      <p class="muted small">
        A verdict here changes how this rule scores on {a.entity.kind} {a.entity.value} from now on: each false positive multiplies its weight by 0.7 (down to 0.2) and resolves the alert; a true
        positive undoes one false positive, or adds 0.1 (up to 1.5). The next alert shows it as a "feedback" line above.
      </p>
      {a.feedback && a.feedback.length > 0 && (
        <ul class="plain small" aria-label="Verdicts given">
          {a.feedback.map((f, i) => (
            <li key={i}>
              {f.verdict === "true_positive" ? "true positive" : "false positive"} by {f.actor}, <Time at={f.at} />
              {f.note ? `: ${f.note}` : ""}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** One matched event: its line, opened to every field for the newest, one click away for the rest. */
function MatchedEvent({ e, labels, open }: { e: TelemetryEvent; labels: ReadonlyMap<string, string>; open: boolean }) {
  return (
    <details class="matched" open={open}>
      <summary>
        <Time at={e.eventTime} /> <span class={`ev-kind kind-${e.type}`}>{e.type}</span> <span class="muted small">{e.action}</span> <span class="event-summary">{summaryOf(e)}</span>
      </summary>
      <EventDetail event={e} labels={labels} />
    </details>
  );
}

function Matched({ a, labels }: { a: AlertDetail; labels: ReadonlyMap<string, string> }) {
  const { api } = useSession();
  const refs = a.eventRefs ?? [];
  const refsKey = refs.map((r) => `${r.agentId}:${r.seq}`).join(",");
  const events = useResource(() => matchedEvents(api, refs), `matched:${a.id}:${refsKey}`, []);
  const found = events.data ?? [];
  // Only an answer can say an event is gone; a failed request is not "deleted by retention".
  const missing = events.data ? refs.length - found.length : 0;
  return (
    <section class="panel" aria-labelledby="matched-title">
      <h2 id="matched-title">
        Matched {refs.length === 1 ? "event" : "events"}{" "}
        <span class="muted small">
          ({refs.length} kept{a.count > refs.length ? `; the alert fired ${a.count} times` : ""})
        </span>
      </h2>
      {events.error && <PageError what="the matched events" error={events.error} />}
      {events.loading && !events.data ? (
        <Loading what="the matched events" />
      ) : (
        <>
          {found.map((e, i) => (
            <MatchedEvent key={e.id} e={e} labels={labels} open={i === 0} />
          ))}
          {missing > 0 && (
            <div class="notice small">
              {missing} referenced {missing === 1 ? "event is" : "events are"} no longer stored (event retention).
              {a.events.length > 0 && " The fields the rule matched, as kept with the alert:"}
              {a.events.length > 0 && <pre>{JSON.stringify(a.events, null, 2)}</pre>}
            </div>
          )}
          {a.count > refs.length && (
            <p class="muted small">
              The alert keeps {refs.length} of the events it matched (the first and the newest);{" "}
              <a href={aroundHref(a.agentId, Date.parse(a.firstSeen), Date.parse(a.lastSeen), AROUND_MS)}>search the host's events</a> for all of them.
            </p>
          )}
        </>
      )}
    </section>
  );
}

/** One alert: why it scored, the event(s) it matched, and the ways on: its case, its host, the events around it. */
export function AlertPage({ id }: { id: string }) {
  const { api } = useSession();
  const r = useResource(() => api.alert(id), `alert:${id}`, ["alerts"]);
  const agents = useResource(() => api.agents(), "agents", ["agents"]);
  if (r.error && !r.data) return <PageError what="the alert" error={r.error} />;
  if (!r.data) return <Loading what="the alert" />;
  const a = r.data;
  // Hosts by name (two agents sharing one told apart), the alert's own hostname while the fleet loads.
  const labels = hostLabels([...(agents.data?.items ?? []), { id: a.agentId, hostname: a.hostname }]);
  const host = hostLabel(labels, a.agentId, a.hostname);
  return (
    <article class="alert-view" aria-labelledby="alert-title">
      <header class="case-header">
        <a class="back" href={href(["alerts"])}>
          ← Alert queue
        </a>
        <div class="case-title-row">
          <ScoreBadge score={a.score} />
          <div>
            <h1 id="alert-title">{a.rule.title}</h1>
            <div class="meta">
              <LevelBadge level={a.rule.level} /> <StateBadge state={a.state} verdict={a.verdict} /> · on{" "}
              <strong>
                <HostName id={a.agentId} hostname={a.hostname} labels={labels} />
              </strong>{" "}
              · <EntityText e={a.entity} hostLabels={labels} /> · fired {a.count} {a.count === 1 ? "time" : "times"} · <Time at={a.firstSeen} />
              {a.count > 1 && (
                <>
                  {" → "}
                  <Time at={a.lastSeen} />
                </>
              )}
            </div>
            {a.rule.tags.length > 0 && <div class="tags">{a.rule.tags.join(" · ")}</div>}
          </div>
        </div>
        <nav class="links" aria-label="From this alert">
          {a.caseId && (
            <a class="btn btn-primary" href={href(["cases", a.caseId], { alert: a.id })}>
              Open the case
            </a>
          )}
          <a class="btn" href={href(["hosts"], { host: a.agentId })}>
            Host {host}
          </a>
          <a class="btn" href={aroundHref(a.agentId, Date.parse(a.firstSeen), Date.parse(a.lastSeen), AROUND_MS)}>
            Events on {host} around this alert
          </a>
        </nav>
      </header>
      <div class="alert-grid">
        <section class="panel" aria-labelledby="why-title">
          <h2 id="why-title">Why it scored {a.score}</h2>
          <Breakdown factors={a.breakdown} score={a.score} />
          <VerdictButtons alert={a} onChanged={r.reload} />
          <Feedback a={a} />
        </section>
        <Matched a={a} labels={labels} />
      </div>
    </article>
  );
}
