import { useState } from "preact/hooks";
import type { Alert, AlertState } from "../api/types";
import { AlertsChart, WINDOWS } from "../components/alerts-chart";
import { LevelBadge, ScoreBadge, StateBadge } from "../components/badges";
import { Loading, PageError } from "../components/states";
import { useSession } from "../lib/context";
import { EntityText } from "../components/alert-card";
import { HostName } from "../components/host-name";
import { Time } from "../components/time";
import { hostLabels } from "../lib/hosts";
import { href, replaceRoute, type Route } from "../lib/router";
import { useResource } from "../lib/use-resource";

const LIMIT = 500;

export interface AlertFilters {
  minScore?: number;
  state?: AlertState;
  rule?: string;
  agent?: string;
}

const STATES: readonly string[] = ["new", "acknowledged", "resolved"];

export function filtersOf(q: URLSearchParams): AlertFilters {
  const n = Number(q.get("minScore"));
  // Open work by default: resolved alerts are history, not queue. "all" lifts the filter.
  const state = q.get("state") ?? "new";
  return {
    minScore: q.get("minScore") && Number.isInteger(n) && n >= 0 && n <= 100 ? n : undefined,
    state: STATES.includes(state) ? (state as AlertState) : undefined,
    rule: q.get("rule") || undefined,
    agent: q.get("agent") || undefined,
  };
}

/** The queue order: most urgent first; ties by most recent activity. */
export function byUrgency(a: Alert, b: Alert): number {
  return b.score - a.score || Date.parse(b.lastSeen) - Date.parse(a.lastSeen);
}

function AlertsOverTime() {
  const { api } = useSession();
  const [w, setW] = useState(WINDOWS[1]);
  const since = Math.floor((Date.now() - w.spanMs) / 60_000) * 60_000;
  const r = useResource(() => api.alerts({ since, limit: LIMIT }), `chart:${w.label}`, ["alerts"]);
  return (
    <section class="panel" aria-labelledby="chart-title">
      <header class="panel-header">
        <h2 id="chart-title">Alerts over time, by level</h2>
        <div class="segmented" role="group" aria-label="Time window">
          {WINDOWS.map((x) => (
            <button key={x.label} type="button" class="btn btn-small" aria-pressed={x === w} onClick={() => setW(x)}>
              {x.label}
            </button>
          ))}
        </div>
      </header>
      {r.data ? <AlertsChart alerts={r.data.items} window={w} now={Date.now()} /> : r.error ? <PageError what="the chart" error={r.error} /> : <Loading what="the chart" />}
    </section>
  );
}

function Filters({ f, route, rules, hosts }: { f: AlertFilters; route: Route; rules: Map<string, string>; hosts: Map<string, string> }) {
  const set = (patch: Record<string, string | undefined>) => {
    const q: Record<string, string | undefined> = Object.fromEntries(route.query.entries());
    replaceRoute(href(["alerts"], { ...q, ...patch }));
  };
  return (
    <form class="filters" role="search" aria-label="Filter alerts" onSubmit={(e) => e.preventDefault()}>
      <label class="field">
        <span>Min score</span>
        <input type="number" min={0} max={100} step={5} value={f.minScore ?? ""} placeholder="0" onInput={(e) => set({ minScore: e.currentTarget.value })} />
      </label>
      <label class="field">
        <span>State</span>
        <select value={route.query.get("state") ?? "new"} onChange={(e) => set({ state: e.currentTarget.value })}>
          <option value="new">New</option>
          <option value="acknowledged">Acknowledged</option>
          <option value="resolved">Resolved</option>
          <option value="all">All</option>
        </select>
      </label>
      <label class="field">
        <span>Rule</span>
        <select value={f.rule ?? ""} onChange={(e) => set({ rule: e.currentTarget.value })}>
          <option value="">All rules</option>
          {[...rules]
            .sort((a, b) => a[1].localeCompare(b[1]))
            .map(([id, title]) => (
              <option key={id} value={id}>
                {title}
              </option>
            ))}
        </select>
      </label>
      <label class="field">
        <span>Host</span>
        <select value={f.agent ?? ""} onChange={(e) => set({ agent: e.currentTarget.value })}>
          <option value="">All hosts</option>
          {[...hosts]
            .sort((a, b) => a[1].localeCompare(b[1]))
            .map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
        </select>
      </label>
      {(f.minScore !== undefined || f.rule || f.agent || route.query.has("state")) && (
        <button type="button" class="btn btn-link" onClick={() => replaceRoute(href(["alerts"]))}>
          Clear filters
        </button>
      )}
    </form>
  );
}

/** A click anywhere on a row opens the alert, as the title link does (keyboard users have the link); text selection and inner links keep working. */
function openRow(e: MouseEvent, id: string): void {
  if ((e.target as Element).closest("a, button, input, select") || window.getSelection()?.toString()) return;
  location.hash = href(["alerts", id]);
}

export function AlertsPage({ route }: { route: Route }) {
  const { api } = useSession();
  const f = filtersOf(route.query);
  const key = JSON.stringify(f);
  // The server orders by score, so the top of the queue is right however many alerts exist.
  const alerts = useResource(() => api.alerts({ ...f, sort: "score", limit: LIMIT }), key, ["alerts", "cases"]);
  const agents = useResource(() => api.agents(), "agents", ["agents"]);

  const items = [...(alerts.data?.items ?? [])].sort(byUrgency);
  // Hosts by name; two agents sharing one ("vm") read "vm · 3f2a" everywhere on the page.
  const labels = hostLabels([...(agents.data?.items ?? []), ...items.map((a) => ({ id: a.agentId, hostname: a.hostname }))]);
  const hosts = new Map((agents.data?.items ?? []).map((a) => [a.id, labels.get(a.id) ?? a.id]));
  const rules = new Map(items.map((a) => [a.rule.id, a.rule.title]));
  if (f.rule && !rules.has(f.rule)) rules.set(f.rule, f.rule);

  return (
    <section aria-labelledby="alerts-title">
      <header class="page-header">
        <h1 id="alerts-title">Alert queue</h1>
        <p class="summary">
          <strong>{items.length}</strong> alerts{alerts.data?.nextCursor ? ` (the ${LIMIT} most recent)` : ""}, highest score first
        </p>
      </header>
      <AlertsOverTime />
      <Filters f={f} route={route} rules={rules} hosts={hosts} />
      {alerts.error && <PageError what="alerts" error={alerts.error} />}
      {alerts.loading && !alerts.data ? (
        <Loading what="alerts" />
      ) : items.length === 0 ? (
        <p class="empty">No alerts match these filters.</p>
      ) : (
        <div class="table-wrap">
          <table class="data alerts stack">
            <thead>
              <tr>
                <th scope="col" class="num">
                  Score
                </th>
                <th scope="col">Level</th>
                <th scope="col">Alert</th>
                <th scope="col">Entity</th>
                <th scope="col">Host</th>
                <th scope="col" class="num">
                  Count
                </th>
                <th scope="col">Last seen</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr key={a.id} data-alert={a.id} class="clickable" onClick={(e) => openRow(e, a.id)}>
                  <td class="num" data-label="Score">
                    <ScoreBadge score={a.score} />
                  </td>
                  <td data-label="Level">
                    <LevelBadge level={a.rule.level} />
                  </td>
                  <th scope="row" class="alert-title" data-label="Alert">
                    <a href={href(["alerts", a.id])}>{a.rule.title}</a>
                    {a.rule.tags.length > 0 && <div class="tags">{a.rule.tags.slice(0, 3).join(" · ")}</div>}
                  </th>
                  <td data-label="Entity">
                    <EntityText e={a.entity} hostLabels={labels} />
                  </td>
                  <td class="host" data-label="Host">
                    <HostName id={a.agentId} hostname={a.hostname} labels={labels} />
                  </td>
                  <td class="num" data-label="Count">
                    {a.count}
                  </td>
                  <td data-label="Last seen">
                    <Time at={a.lastSeen} format="ago" />
                  </td>
                  <td data-label="State">
                    <StateBadge state={a.state} verdict={a.verdict} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
