import { EntityText } from "../components/alert-card";
import { ScoreBadge, StateBadge } from "../components/badges";
import { hostLabels } from "../lib/hosts";
import { Loading, PageError } from "../components/states";
import { useSession } from "../lib/context";
import { Time } from "../components/time";
import { href, replaceRoute, type Route } from "../lib/router";
import { useResource } from "../lib/use-resource";

/** Open cases first by score: a case is the unit of work, alerts are its evidence. */
export function CasesPage({ route }: { route: Route }) {
  const { api } = useSession();
  const state = route.query.get("state") ?? "open";
  const r = useResource(() => api.cases({ limit: 200, ...(state === "open" || state === "all" ? {} : { state }) }), `cases:${state}`, ["cases"]);
  if (r.error && !r.data) return <PageError what="cases" error={r.error} />;
  const items = (r.data?.items ?? []).filter((c) => state !== "open" || c.state !== "resolved").sort((a, b) => b.score - a.score || Date.parse(b.lastSeen) - Date.parse(a.lastSeen));
  // Hosts by name across the listed cases; two called "vm" get their id prefix.
  const labels = hostLabels(items.flatMap((c) => c.entities.filter((e) => e.kind === "host").map((e) => ({ id: e.value, hostname: e.hostname }))));
  return (
    <section aria-labelledby="cases-title">
      <header class="page-header">
        <h1 id="cases-title">Cases</h1>
        <label class="field inline">
          <span>Show</span>
          <select value={state} onChange={(e) => replaceRoute(href(["cases"], { state: e.currentTarget.value }))}>
            <option value="open">Open</option>
            <option value="new">New</option>
            <option value="acknowledged">Acknowledged</option>
            <option value="resolved">Resolved</option>
            <option value="all">All</option>
          </select>
        </label>
      </header>
      {!r.data ? (
        <Loading what="cases" />
      ) : items.length === 0 ? (
        <p class="empty">No cases.</p>
      ) : (
        <div class="table-wrap">
          <table class="data cases stack">
            <thead>
              <tr>
                <th scope="col" class="num">
                  Score
                </th>
                <th scope="col">Case</th>
                <th scope="col">Entities</th>
                <th scope="col" class="num">
                  Alerts
                </th>
                <th scope="col">Last activity</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id}>
                  <td class="num" data-label="Score">
                    <ScoreBadge score={c.score} />
                  </td>
                  <th scope="row" data-label="Case">
                    <a href={href(["cases", c.id])}>{c.title}</a>
                  </th>
                  <td class="small" data-label="Entities">
                    {c.entities.slice(0, 4).map((e, i) => (
                      <span key={i}>
                        {i > 0 && " · "}
                        <EntityText e={e} hostLabels={labels} />
                      </span>
                    ))}
                  </td>
                  <td class="num" data-label="Alerts">
                    {c.alertCount}
                  </td>
                  <td data-label="Last activity">
                    <Time at={c.lastSeen} format="ago" />
                  </td>
                  <td data-label="State">
                    <StateBadge state={c.state} verdict={c.verdict} />
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
