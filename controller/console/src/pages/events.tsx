import { useEffect, useState } from "preact/hooks";
import { EVENT_KINDS, type TelemetryEvent } from "../api/types";
import { EventDetail } from "../components/event-detail";
import { HostName } from "../components/host-name";
import { Loading, PageError } from "../components/states";
import { Time } from "../components/time";
import { useSession } from "../lib/context";
import { summaryOf, userOf } from "../lib/event-view";
import { hostLabels } from "../lib/hosts";
import { href, replaceRoute, type Route } from "../lib/router";
import { fromLocalInput, toLocalInput } from "../lib/time-input";
import { useResource } from "../lib/use-resource";

const PAGE = 100;

export interface EventFilters {
  agent?: string;
  type?: string;
  since?: string;
  until?: string;
  q?: string;
}

/** The search lives in the URL (#/events?agent=web-1&q=curl), so an alert can link to "the events around it". */
export function eventFiltersOf(q: URLSearchParams): EventFilters {
  const type = q.get("type") ?? "";
  return {
    agent: q.get("agent") || undefined,
    type: (EVENT_KINDS as readonly string[]).includes(type) ? type : undefined,
    since: q.get("since") || undefined,
    until: q.get("until") || undefined,
    q: q.get("q") || undefined,
  };
}

const RANGES = [
  { label: "1 h", ms: 3_600_000 },
  { label: "24 h", ms: 86_400_000 },
  { label: "7 d", ms: 7 * 86_400_000 },
] as const;

function SearchForm({ f, hosts, onSearch }: { f: EventFilters; hosts: ReadonlyMap<string, string>; onSearch: () => void }) {
  // The text box is applied on submit (Enter or the button), not per keystroke: every search is a query on the event store.
  const [text, setText] = useState(f.q ?? "");
  // A link or the back button changed the search: the box shows it. Typing alone does not touch the URL.
  useEffect(() => setText(f.q ?? ""), [f.q]);
  const set = (patch: Partial<EventFilters>) => {
    const to = href(["events"], { ...f, q: text, ...patch });
    // The same search again (Search pressed twice): fetch anew, as the analyst expects newer events.
    if (to === location.hash) onSearch();
    else replaceRoute(to);
  };
  return (
    <form
      class="filters"
      role="search"
      aria-label="Search events"
      onSubmit={(e) => {
        e.preventDefault();
        set({ q: text.trim() });
      }}
    >
      <label class="field grow">
        <span>Text</span>
        <input type="search" value={text} maxLength={256} placeholder="image, command line, user, path, IP" onInput={(e) => setText(e.currentTarget.value)} />
      </label>
      <label class="field">
        <span>Host</span>
        <select value={f.agent ?? ""} onChange={(e) => set({ agent: e.currentTarget.value || undefined })}>
          <option value="">All hosts</option>
          {[...hosts]
            .sort((a, b) => a[1].localeCompare(b[1]))
            .map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          {f.agent && !hosts.has(f.agent) && <option value={f.agent}>{f.agent}</option>}
        </select>
      </label>
      <label class="field">
        <span>Kind</span>
        <select value={f.type ?? ""} onChange={(e) => set({ type: e.currentTarget.value || undefined })}>
          <option value="">All kinds</option>
          {EVENT_KINDS.map((k) => (
            <option key={k} value={k}>
              {k}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span>From</span>
        <input type="datetime-local" step={1} value={toLocalInput(f.since)} onChange={(e) => set({ since: fromLocalInput(e.currentTarget.value) })} />
      </label>
      <label class="field">
        <span>To</span>
        <input type="datetime-local" step={1} value={toLocalInput(f.until)} onChange={(e) => set({ until: fromLocalInput(e.currentTarget.value) })} />
      </label>
      <div class="segmented" role="group" aria-label="Recent">
        {RANGES.map((r) => (
          <button key={r.label} type="button" class="btn btn-small" title={`the last ${r.label}`} onClick={() => set({ since: new Date(Date.now() - r.ms).toISOString(), until: undefined })}>
            {r.label}
          </button>
        ))}
      </div>
      <button type="submit" class="btn btn-primary">
        Search
      </button>
      {(f.agent || f.type || f.since || f.until || f.q) && (
        <button
          type="button"
          class="btn btn-link"
          onClick={() => {
            setText("");
            replaceRoute(href(["events"]));
          }}
        >
          Clear
        </button>
      )}
    </form>
  );
}

function EventRow({ e, labels }: { e: TelemetryEvent; labels: ReadonlyMap<string, string> }) {
  const [open, setOpen] = useState(false);
  const id = `ev-${e.id}`;
  return (
    <>
      <tr data-event={`${e.agentId}:${e.seq}`} class={open ? "open" : undefined}>
        <td data-label="Time" class="nowrap">
          <Time at={e.eventTime} />
        </td>
        <td data-label="Host">
          <HostName id={e.agentId} labels={labels} />
        </td>
        <td data-label="Kind">
          <span class={`ev-kind kind-${e.type}`}>{e.type}</span> <span class="muted small">{e.action}</span>
        </td>
        <th scope="row" data-label="What" class="event-summary">
          <button type="button" class="linkish" aria-expanded={open} aria-controls={id} onClick={() => setOpen(!open)}>
            {summaryOf(e) || <span class="muted">(no text)</span>}
          </button>
        </th>
        <td data-label="User">{userOf(e) || <span class="muted">—</span>}</td>
      </tr>
      {open && (
        <tr class="detail-row" id={id}>
          <td colSpan={5}>
            <EventDetail event={e} labels={labels} />
          </td>
        </tr>
      )}
    </>
  );
}

/** Older pages fetched with the cursor, kept for the search they belong to. */
interface More {
  key: string;
  items: TelemetryEvent[];
  cursor: string | null;
  busy: boolean;
  error?: string;
}

export function EventsPage({ route }: { route: Route }) {
  const { api } = useSession();
  const f = eventFiltersOf(route.query);
  const key = JSON.stringify(f);
  // Not live: results that moved while being read would lose the analyst's place. Search again to refresh.
  const first = useResource(() => api.events({ ...f, limit: PAGE }), key, []);
  const agents = useResource(() => api.agents(), "agents", ["agents"]);
  const [more, setMore] = useState<More | null>(null);
  // Hosts by name, two agents sharing one told apart ("vm · 3f2a"), as everywhere in the console.
  const labels = hostLabels(agents.data?.items ?? []);

  const mine = more?.key === key ? more : null;
  // An older page can repeat an event the first page has, when the first page was refreshed in between.
  const byId = new Map<string, TelemetryEvent>();
  for (const e of [...(first.data?.items ?? []), ...(mine?.items ?? [])]) if (!byId.has(e.id)) byId.set(e.id, e);
  const items = [...byId.values()];
  const cursor = mine ? mine.cursor : (first.data?.nextCursor ?? null);
  const loadOlder = () => {
    if (!cursor) return;
    setMore({ key, items: mine?.items ?? [], cursor, busy: true });
    api.events({ ...f, limit: PAGE, cursor }).then(
      (p) => setMore((m) => (m?.key === key ? { key, items: [...m.items, ...p.items], cursor: p.nextCursor ?? null, busy: false } : m)),
      (err: unknown) => setMore((m) => (m?.key === key ? { ...m, busy: false, error: err instanceof Error ? err.message : String(err) } : m)),
    );
  };

  return (
    <section aria-labelledby="events-title">
      <header class="page-header">
        <h1 id="events-title">Events</h1>
        <p class="summary">
          {first.data ? (
            <>
              <strong>{items.length}</strong> {items.length === 1 ? "event" : "events"}
              {cursor ? " so far" : ""}, newest first
            </>
          ) : (
            "Telemetry from every host, newest first"
          )}
        </p>
      </header>
      <SearchForm f={f} hosts={labels} onSearch={first.reload} />
      {first.error && <PageError what="events" error={first.error} />}
      {first.loading && !first.data ? (
        <Loading what="events" />
      ) : !first.data ? null : items.length === 0 ? (
        <p class="empty">No events match this search. Widen the time range or clear a filter.</p>
      ) : (
        <>
          <div class="table-wrap">
            <table class="data events stack">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Host</th>
                  <th scope="col">Kind</th>
                  <th scope="col">What</th>
                  <th scope="col">User</th>
                </tr>
              </thead>
              <tbody>
                {items.map((e) => (
                  <EventRow key={e.id} e={e} labels={labels} />
                ))}
              </tbody>
            </table>
          </div>
          {mine?.error && (
            <p class="error" role="alert">
              Could not load older events: {mine.error}
            </p>
          )}
          {cursor && (
            <p class="more">
              <button type="button" class="btn" disabled={mine?.busy} onClick={loadOlder}>
                {mine?.busy ? "Loading…" : "Load older events"}
              </button>
            </p>
          )}
        </>
      )}
    </section>
  );
}
