import type { Command } from "../api/types";
import { when } from "../lib/format";
import { CommandStateBadge } from "./badges";

type Row = Record<string, unknown>;

function isRows(v: unknown): v is Row[] {
  return Array.isArray(v) && v.length > 0 && v.every((r) => r && typeof r === "object" && !Array.isArray(r));
}

/** A list of records (processes, connections, hashes) as a compact table; columns from the first records. */
function RowsTable({ name, rows }: { name: string; rows: Row[] }) {
  const cols = [...new Set(rows.slice(0, 20).flatMap((r) => Object.keys(r)))].slice(0, 6);
  const cell = (v: unknown) => (v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
  // Short columns (pid, user, state) never wrap; long ones (command lines) do.
  const short = new Set(cols.filter((c) => rows.slice(0, 200).every((r) => cell(r[c]).length <= 24)));
  return (
    <div class="evidence-part">
      <h3>
        {name} <span class="muted small">({rows.length})</span>
      </h3>
      <div class="table-scroll">
        <table class="mini">
          <thead>
            <tr>
              {cols.map((c) => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.slice(0, 200).map((r, i) => (
              <tr key={i}>
                {cols.map((c) => (
                  <td key={c} class={short.has(c) ? "nowrap" : undefined}>
                    {cell(r[c])}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

/** One collect_evidence result: record lists as tables, anything else as JSON. */
function EvidenceOutput({ output }: { output: unknown }) {
  if (!output || typeof output !== "object" || Array.isArray(output)) return <pre>{typeof output === "string" ? output : JSON.stringify(output, null, 2)}</pre>;
  const entries = Object.entries(output as Row);
  const rest = entries.filter(([, v]) => !isRows(v));
  return (
    <>
      {entries
        .filter(([, v]) => isRows(v))
        .map(([k, v]) => (
          <RowsTable key={k} name={k} rows={v as Row[]} />
        ))}
      {rest.length > 0 && <pre>{JSON.stringify(Object.fromEntries(rest), null, 2)}</pre>}
    </>
  );
}

/** What collect_evidence brought back, newest first; only the newest is open so the panel stays short. */
export function Evidence({ commands, hostOf }: { commands: Command[]; hostOf: (id: string) => string }) {
  const ev = commands.filter((c) => c.type === "collect_evidence");
  return (
    <section class="panel" aria-labelledby="evidence-title">
      <h2 id="evidence-title">Evidence</h2>
      {ev.length === 0 ? (
        <p class="empty">No evidence collected.</p>
      ) : (
        <ul class="plain actions">
          {ev.map((c, i) => (
            <li key={c.id} class="action">
              <details open={i === 0}>
                <summary>
                  <strong>{hostOf(c.agentId)}</strong> <CommandStateBadge state={c.state} /> <span class="muted small">{when(c.finishedAt ?? c.issuedAt)}</span>
                </summary>
                {c.output !== undefined && c.output !== null ? (
                  <EvidenceOutput output={c.output} />
                ) : c.outputRedacted ? (
                  <div class="muted small">{c.outputRedacted}</div>
                ) : (
                  c.reason && <div class="cmd-reason">{c.reason}</div>
                )}
              </details>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
