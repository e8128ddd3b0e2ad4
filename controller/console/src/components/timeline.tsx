import type { ComponentChild } from "preact";
import type { TimelineEntry } from "../api/types";
import { zone } from "../lib/format";
import { HostName } from "./host-name";
import { Time } from "./time";

const LABELS: Record<string, string> = { action: "response", action_result: "result", response: "response" };

/** "event.auth" → "auth"; response entries (from the server or added here) read the same. */
function kindLabel(kind: string): string {
  if (kind.startsWith("event.")) return kind.slice(6);
  return LABELS[kind] ?? kind.replace(/_/g, " ");
}

function kindClass(kind: string): string {
  const k = kind.split(".")[0];
  return k in LABELS ? "response" : k;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v ? v : undefined);

/** The DOM id of a telemetry entry, so an alert can bring its newest event into view. */
export function eventAnchor(agentId: string, seq: number): string {
  return `ev-${agentId}-${seq}`.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** An event's labelled fields (Image, Command line, PID, …) as the server named them per event kind. */
function Fields({ fields, host }: { fields: NonNullable<TimelineEntry["fields"]>; host?: ComponentChild }) {
  if (!fields.length && !host) return null;
  return (
    <dl class="tl-fields">
      {host && (
        <div class="tl-field">
          <dt>Host</dt>
          <dd>{host}</dd>
        </div>
      )}
      {fields.map((f, i) => (
        <div key={i} class="tl-field">
          <dt>{f.label}</dt>
          <dd>{f.value}</dd>
        </div>
      ))}
    </dl>
  );
}

/**
 * The case's story in event-time order: telemetry, alerts raised, response actions. Times of day
 * under a day heading that names the zone; the exact instant on hover.
 */
export function Timeline({ entries, hostLabels, showHost = false }: { entries: TimelineEntry[]; hostLabels?: ReadonlyMap<string, string>; showHost?: boolean }) {
  if (!entries.length) return <p class="empty">No events recorded for this case.</p>;
  let lastDay = "";
  return (
    <ol class="timeline">
      {entries.map((e, i) => {
        const day = new Date(e.time).toDateString();
        const showDay = day !== lastDay;
        lastDay = day;
        const kind = kindLabel(e.kind);
        const agentId = str(e.ref?.agentId);
        const seq = typeof e.ref?.seq === "number" ? e.ref.seq : undefined;
        const isEvent = e.kind.startsWith("event.");
        // In a case over several hosts, each event and alert says which (an alert's summary names the host only by its hostname).
        const host = (isEvent || e.kind === "alert") && showHost && agentId ? <HostName id={agentId} hostname={str(e.ref?.hostname)} labels={hostLabels ?? new Map()} /> : undefined;
        const until = e.kind === "alert" ? str(e.ref?.lastSeen) : undefined;
        return (
          <li key={i} class={`tl-${kindClass(e.kind)}`} id={isEvent && agentId && seq !== undefined ? eventAnchor(agentId, seq) : undefined} tabIndex={-1}>
            {showDay && (
              <div class="tl-day">
                {new Date(e.time).toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" })} <span class="tl-zone">· times in {zone(e.time)}</span>
              </div>
            )}
            <Time at={e.time} format="clock" />
            <span class={`tl-kind kind-${kindClass(e.kind)}`}>{kind}</span>
            <span class="tl-summary">
              {e.summary}
              {until && until !== e.time && (
                <>
                  {" "}
                  until <Time at={until} />
                </>
              )}
              {isEvent ? <Fields fields={e.fields ?? []} host={host} /> : host && <Fields fields={[]} host={host} />}
              {e.data && Object.keys(e.data).length > 0 && (
                <details class="tl-data">
                  <summary>raw event</summary>
                  <pre>{JSON.stringify(e.data, null, 2)}</pre>
                </details>
              )}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
