import type { TimelineEntry } from "../api/types";
import { clock, when } from "../lib/format";

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

/** The case's story in event-time order: telemetry, alerts raised, response actions. */
export function Timeline({ entries }: { entries: TimelineEntry[] }) {
  if (!entries.length) return <p class="empty">No events recorded for this case.</p>;
  let lastDay = "";
  return (
    <ol class="timeline">
      {entries.map((e, i) => {
        const day = new Date(e.time).toDateString();
        const showDay = day !== lastDay;
        lastDay = day;
        const kind = kindLabel(e.kind);
        return (
          <li key={i} class={`tl-${kindClass(e.kind)}`}>
            {showDay && <div class="tl-day">{new Date(e.time).toLocaleDateString(undefined, { weekday: "short", month: "short", day: "numeric" })}</div>}
            <time dateTime={e.time} title={when(e.time)}>{clock(e.time)}</time>
            <span class={`tl-kind kind-${kindClass(e.kind)}`}>{kind}</span>
            <span class="tl-summary">
              {e.summary}
              {e.data && Object.keys(e.data).length > 0 && (
                <details class="tl-data">
                  <summary>details</summary>
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
