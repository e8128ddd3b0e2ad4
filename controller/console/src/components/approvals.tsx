import { useState } from "preact/hooks";
import type { PlaybookAction } from "../api/types";
import { useSession } from "../lib/context";
import { ago, humanize } from "../lib/format";

function describe(a: PlaybookAction, hostOf: (id: string) => string): string {
  const p = a.params;
  const target = a.type === "block_ip" || a.type === "unblock_ip" ? String(p.ip ?? "") : a.type === "kill_process" ? `pid ${String(p.pid ?? "?")}` : "";
  return `${humanize(a.type)}${target ? ` ${target}` : ""} on ${hostOf(a.agentId)}`;
}

/** Actions a playbook wants to take but that wait for an analyst: approve signs and sends the command. */
export function Approvals({ pending, hostOf, onDecided }: { pending: PlaybookAction[]; hostOf: (id: string) => string; onDecided: () => void }) {
  const { api } = useSession();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const decide = async (a: PlaybookAction, approve: boolean) => {
    setBusy(a.id);
    setError(null);
    try {
      await api.decide(a.id, approve);
      onDecided();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(null);
    }
  };
  return (
    <section class="panel approvals" aria-labelledby="approvals-title">
      <h2 id="approvals-title">
        Waiting for approval <span class="count">{pending.length}</span>
      </h2>
      <ul class="plain">
        {pending.map((a) => (
          <li key={a.id} class="approval">
            <div>
              <strong>{describe(a, hostOf)}</strong>
              <div class="muted small">
                playbook {a.playbookId} · proposed {ago(a.createdAt)}
              </div>
            </div>
            <div class="approval-buttons">
              <button type="button" class="btn btn-small btn-primary" disabled={busy === a.id} onClick={() => void decide(a, true)} aria-label={`Approve: ${describe(a, hostOf)}`}>
                Approve
              </button>
              <button type="button" class="btn btn-small" disabled={busy === a.id} onClick={() => void decide(a, false)} aria-label={`Reject: ${describe(a, hostOf)}`}>
                Reject
              </button>
            </div>
          </li>
        ))}
      </ul>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
