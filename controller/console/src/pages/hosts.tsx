import { useEffect, useState } from "preact/hooks";
import type { Agent, Command } from "../api/types";
import { FINISHED } from "../api/types";
import { OnlineBadge } from "../components/badges";
import { CommandResult } from "../components/command-result";
import { HostActions } from "../components/host-actions";
import { HostInventoryDetails } from "../components/host-inventory";
import { useSession } from "../lib/context";
import { ago, bytes, count, when } from "../lib/format";
import { href } from "../lib/router";
import { useResource } from "../lib/use-resource";
import { Loading, PageError } from "../components/states";

const CONTAINMENT = new Set(["isolate", "release"]);

/** The newest isolate/release per agent: it says whether one is in flight and how the last one ended. */
function latestContainment(commands: Command[]): Map<string, Command> {
  const out = new Map<string, Command>();
  for (const c of commands) if (CONTAINMENT.has(c.type) && !out.has(c.agentId)) out.set(c.agentId, c); // newest first
  return out;
}

/**
 * Isolated as far as we know: a containment command that succeeded is newer news than the
 * agent's last status report; without one, the agent's own report.
 */
export function isIsolated(a: Agent, last: Command | undefined): boolean {
  if (last?.state === "succeeded") return last.type === "isolate";
  return a.status.isolated === true;
}

const PROCESS_SOURCES: Record<string, string> = { ebpf: "kernel (eBPF)", audit: "auditd exec records", "/proc polling": "/proc polling" };

/**
 * Where process events come from (the agent's fallback order: eBPF, auditd, /proc polling) and,
 * for a fallback, what it cannot see, as the agent's health says it ("; misses: …").
 */
function ProcessSource({ a }: { a: Agent }) {
  const detail = a.status.sensors?.find((s) => s.name === "process")?.detail ?? "";
  const m = /^source: (ebpf|audit|\/proc polling)/.exec(detail);
  if (!m) return null;
  const misses = /; misses: ([^;]*)/.exec(detail)?.[1];
  return (
    <div class={`small ${m[1] === "ebpf" ? "muted" : "warn"}`} title={detail}>
      processes: {PROCESS_SOURCES[m[1]]}
      {misses && <span class="sensor-misses"> · misses: {misses}</span>}
    </div>
  );
}

function Sensors({ a }: { a: Agent }) {
  const sensors = a.status.sensors ?? [];
  if (!sensors.length) return <span class="muted">no report</span>;
  const down = sensors.filter((s) => !s.running || s.errors > 0);
  if (!down.length)
    return (
      <span class="ok">
        {sensors.length}/{sensors.length} running
      </span>
    );
  return (
    <span class="warn" title={down.map((s) => `${s.name}: ${s.running ? `${s.errors} errors` : "stopped"}${s.detail ? ` (${s.detail})` : ""}`).join("\n")}>
      {sensors.length - down.filter((s) => !s.running).length}/{sensors.length} running
      <span class="sensor-issues">
        {down.map((s) => s.name).join(", ")} {down.some((s) => !s.running) ? "down" : "erroring"}
      </span>
    </span>
  );
}

function Spool({ a }: { a: Agent }) {
  const dropped = Object.values(a.status.dropped ?? {}).reduce((s, n) => s + Number(n), 0);
  const discarded = a.status.spoolDiscardedBytes ?? 0;
  return (
    <span>
      {bytes(a.status.spoolBytes)}
      <span class="muted"> · {count(a.status.spoolRecords ?? 0)} queued</span>
      {(dropped > 0 || discarded > 0) && (
        <span
          class="warn drops"
          title={Object.entries(a.status.dropped ?? {})
            .map(([k, n]) => `${k}: ${n}`)
            .join("\n")}
        >
          {dropped > 0 && ` · ${count(dropped)} dropped`}
          {discarded > 0 && ` · ${bytes(discarded)} discarded`}
        </span>
      )}
    </span>
  );
}

/** `focus`: an agent id from a link (an alert's "Host" button): that row is marked and scrolled to. */
export function HostsPage({ focus }: { focus?: string } = {}) {
  const { api } = useSession();
  const agents = useResource(() => api.agents(), "agents", ["agents"]);
  useEffect(() => {
    if (focus && agents.data) document.querySelector(`tr[data-agent="${CSS.escape(focus)}"]`)?.scrollIntoView({ block: "center" });
  }, [focus, !!agents.data]);
  const commands = useResource(() => api.commands({ limit: 500 }), "commands", ["commands"]);
  // Commands issued in this tab: followed closely (1 s) until the agent answers.
  const [issued, setIssued] = useState<Record<string, Command>>({});

  if (agents.error && !agents.data) return <PageError what="hosts" error={agents.error} />;
  if (!agents.data) return <Loading what="hosts" />;
  const latest = latestContainment(commands.data?.items ?? []);
  const list = [...agents.data.items].sort((x, y) => Number(y.online) - Number(x.online) || x.hostname.localeCompare(y.hostname));
  const online = list.filter((a) => a.online).length;
  const isolated = list.filter((a) => isIsolated(a, latest.get(a.id))).length;

  return (
    <section aria-labelledby="hosts-title">
      <header class="page-header">
        <h1 id="hosts-title">Hosts</h1>
        <p class="summary">
          <strong>{list.length}</strong> hosts · <strong>{online}</strong> online · <strong class={isolated ? "warn" : ""}>{isolated}</strong> isolated
        </p>
      </header>
      {agents.error && (
        <p class="error" role="alert">
          Refresh failed: {agents.error}
        </p>
      )}
      {list.length === 0 ? (
        <p class="empty">No agents have connected yet. Install one with the install script and it appears here.</p>
      ) : (
        <div class="table-wrap">
          <table class="data hosts stack">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">Status</th>
                <th scope="col">Isolation · mode</th>
                <th scope="col">Version</th>
                <th scope="col">Last seen</th>
                <th scope="col">Sensors</th>
                <th scope="col">Spool</th>
                <th scope="col">Last response</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((a) => {
                const listed = latest.get(a.id);
                const mine = issued[a.id];
                // The listed copy is fresher once the list has caught up with what this tab issued.
                const last = mine && mine.id !== listed?.id ? mine : listed;
                const iso = isIsolated(a, latest.get(a.id));
                const inFlight = !!last && !FINISHED.includes(last.state);
                return (
                  <tr key={a.id} data-agent={a.id} class={a.id === focus ? "highlighted" : undefined} aria-current={a.id === focus ? "true" : undefined}>
                    <th scope="row" data-label="Host">
                      <div class="host-name">{a.hostname || a.id}</div>
                      <div class="muted small">
                        {a.id}
                        {a.ipAddresses.length ? ` · ${a.ipAddresses.slice(0, 2).join(", ")}` : ""}
                      </div>
                      <a class="small" href={href(["events"], { agent: a.id })}>
                        events
                      </a>
                      <HostInventoryDetails agentId={a.id} />
                    </th>
                    <td data-label="Status">
                      <OnlineBadge online={a.online} telemetry={a.telemetry} reason={a.telemetryReason} />
                    </td>
                    <td data-label="Isolation · mode">
                      {iso ? <span class="badge isolated">isolated</span> : <span class="muted">not isolated</span>}
                      {a.enforcement === "monitor" ? (
                        <div class="badge enforcement-monitor" title="monitor mode: response actions are reported, not carried out">
                          monitor only
                        </div>
                      ) : a.enforcement === "enforce" ? (
                        <div class="muted small enforcement-enforce">enforcing</div>
                      ) : null}
                    </td>
                    <td data-label="Version">{a.agentVersion || "—"}</td>
                    <td data-label="Last seen" title={when(a.lastSeen)}>
                      {ago(a.lastSeen)}
                    </td>
                    <td data-label="Sensors">
                      <Sensors a={a} />
                      <ProcessSource a={a} />
                    </td>
                    <td data-label="Spool">
                      <Spool a={a} />
                    </td>
                    <td class="last-response" data-label="Last response">
                      {last ? <CommandResult key={last.id} command={last} onFinish={() => (commands.reload(), agents.reload())} /> : <span class="muted">—</span>}
                    </td>
                    <td data-label="Actions">
                      <HostActions agentId={a.id} hostname={a.hostname || a.id} isolated={iso} busy={inFlight} onIssued={(c) => setIssued((m) => ({ ...m, [a.id]: c }))} />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
