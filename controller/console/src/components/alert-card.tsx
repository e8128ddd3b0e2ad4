import { VerdictButtons } from "./verdict-buttons";
import { href } from "../lib/router";
import type { Alert, Entity, EventRef } from "../api/types";
import { LevelBadge, ScoreBadge, StateBadge } from "./badges";
import { Breakdown } from "./breakdown";
import { HostName } from "./host-name";
import { Time } from "./time";
import { eventAnchor } from "./timeline";

/** An alert's entity: a host by its name (the agent id on hover), anything else as it is. */
export function EntityText({ e, hostLabels }: { e: Entity; hostLabels: ReadonlyMap<string, string> }) {
  return (
    <span class="entity">
      <span class="muted">{e.kind}</span> {e.kind === "host" ? <HostName id={e.value} hostname={e.hostname} labels={hostLabels} /> : e.value}
    </span>
  );
}

/** Brings a matched event's timeline entry into view (the case page renders the timeline). */
function showEvent(r: EventRef): void {
  const el = document.getElementById(eventAnchor(r.agentId, r.seq));
  if (!el) return;
  el.scrollIntoView({ block: "center" });
  el.classList.add("flash");
  el.focus({ preventScroll: true });
  setTimeout(() => el.classList.remove("flash"), 2000);
}

/**
 * The events an alert kept: the first and the newest matches (bounded), said plainly when there
 * were more than it keeps, with the newest one a click away.
 */
function MatchedEvents({ a, hostLabels }: { a: Alert; hostLabels: ReadonlyMap<string, string> }) {
  const refs = a.eventRefs ?? [];
  const newest = a.newestEventRef ?? refs.at(-1) ?? null;
  if (!newest) return null;
  return (
    <div class="alert-events">
      <span class="muted">Newest matched event:</span>{" "}
      <button type="button" class="btn btn-link newest-event" onClick={() => showEvent(newest)}>
        #{newest.seq} on <HostName id={newest.agentId} labels={hostLabels} hostname={newest.agentId === a.agentId ? a.hostname : undefined} /> at <Time at={new Date(newest.timeMs).toISOString()} />
      </button>
      <details>
        <summary>
          {refs.length} matched {refs.length === 1 ? "event" : "events"} kept
          {a.count > refs.length ? ` (the first and the newest of ${a.count} matches)` : ""}
        </summary>
        <ol>
          {refs.map((r) => (
            <li key={`${r.agentId}|${r.seq}`}>
              <button type="button" class="btn btn-link" onClick={() => showEvent(r)}>
                <Time at={new Date(r.timeMs).toISOString()} /> · #{r.seq}
              </button>
            </li>
          ))}
        </ol>
      </details>
    </div>
  );
}

/** One alert of a case: what fired, on what, how often, why it scored so, and the analyst's verdict. */
export function AlertCard({ alert: a, highlighted, onChanged, hostLabels = new Map() }: { alert: Alert; highlighted?: boolean; onChanged: () => void; hostLabels?: ReadonlyMap<string, string> }) {
  return (
    <article class={`alert-card${highlighted ? " highlighted" : ""}`} id={`alert-${a.id}`} aria-labelledby={`alert-title-${a.id}`} tabIndex={-1}>
      <header class="alert-card-header">
        <ScoreBadge score={a.score} />
        <div class="alert-card-title">
          <h3 id={`alert-title-${a.id}`}>
            <a href={href(["alerts", a.id])} title="Open the alert view: its matched events and verdicts">
              {a.rule.title}
            </a>
          </h3>
          <div class="meta">
            <LevelBadge level={a.rule.level} /> <EntityText e={a.entity} hostLabels={hostLabels} />
            {a.entity.kind !== "host" && (
              <>
                {" on "}
                <HostName id={a.agentId} hostname={a.hostname} labels={hostLabels} />
              </>
            )}
            {" · "}
            {a.count} {a.count === 1 ? "time" : "times"} · <Time at={a.firstSeen} />
            {a.count > 1 && (
              <>
                {" → "}
                <Time at={a.lastSeen} />
              </>
            )}{" "}
            · <StateBadge state={a.state} verdict={a.verdict} />
          </div>
        </div>
      </header>
      <Breakdown factors={a.breakdown} score={a.score} />
      <MatchedEvents a={a} hostLabels={hostLabels} />
      <VerdictButtons alert={a} onChanged={onChanged} />
    </article>
  );
}
