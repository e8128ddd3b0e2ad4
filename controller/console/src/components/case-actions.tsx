import { useState } from "preact/hooks";
import type { Command, PlaybookAction } from "../api/types";
import { useSession } from "../lib/context";
import { humanize, when } from "../lib/format";
import { CommandStateBadge } from "./badges";
import { Output } from "./command-result";

function target(c: { type: string; params: Record<string, unknown> }): string {
  const p = c.params;
  if (p.ip) return String(p.ip);
  if (p.pid) return `pid ${String(p.pid)}`;
  if (p.user) return `user ${String(p.user)}`;
  return "";
}

/** Actions the controller can reverse: isolation (release) and IP blocks (unblock). */
const REVERSIBLE = new Set(["isolate", "block_ip"]);

function UndoButton({ command }: { command: Command }) {
  const { api } = useSession();
  // "idle", "busy", "sent", or the error message to show.
  const [state, setState] = useState<string>("idle");
  const undo = async () => {
    setState("busy");
    try {
      await api.undo(command.id);
      setState("sent");
    } catch (err) {
      setState(`failed: ${(err as Error).message}`);
    }
  };
  if (state === "sent") return <div class="muted small">Undo sent; its result appears here.</div>;
  return (
    <div>
      <button type="button" class="btn small" disabled={state === "busy"} onClick={() => void undo()}>
        Undo {command.type === "isolate" ? "(release host)" : "(lift block)"}
      </button>
      {state.startsWith("failed") && <span class="cmd-reason"> {state}</span>}
    </div>
  );
}

/**
 * What was done about this case: commands (by analysts, playbooks or the agent itself) with
 * their results, and playbook decisions that did not become a command (refused by a guard
 * rail, rejected, skipped), so "why wasn't this host isolated?" has an answer on the page.
 */
export function CaseActions({ commands, decisions, hostOf }: { commands: Command[]; decisions: PlaybookAction[]; hostOf: (id: string) => string }) {
  const notIssued = decisions.filter((d) => d.state === "refused" || d.state === "rejected" || d.state === "skipped");
  const actions = commands.filter((c) => c.type !== "collect_evidence");
  return (
    <section class="panel" aria-labelledby="actions-title">
      <h2 id="actions-title">Response actions</h2>
      {actions.length === 0 && notIssued.length === 0 ? (
        <p class="empty">No response actions yet.</p>
      ) : (
        <ul class="plain actions">
          {actions.map((c) => (
            <li key={c.id} class="action">
              <div class="action-head">
                <strong>{humanize(c.type)}</strong> {target(c)} <span class="muted">on {hostOf(c.agentId)}</span> <CommandStateBadge state={c.state} />
              </div>
              <div class="muted small">
                {c.local ? "taken by the agent on its own" : `by ${c.requestedBy ?? "unknown"}`} · {when(c.finishedAt ?? c.issuedAt)}
              </div>
              {c.reason && <div class="cmd-reason">{c.reason}</div>}
              {c.output !== undefined && c.output !== null && <Output value={c.output} />}
              {REVERSIBLE.has(c.type) && c.state === "succeeded" && !commands.some((u) => u.undoOf === c.id) && <UndoButton command={c} />}
            </li>
          ))}
          {notIssued.map((d) => (
            <li key={d.id} class="action">
              <div class="action-head">
                <strong>{humanize(d.type)}</strong> {target(d)} <span class="muted">on {hostOf(d.agentId)}</span> <span class={`badge pb-${d.state}`}>{d.state}</span>
              </div>
              <div class="muted small">
                playbook {d.playbookId}
                {d.decidedBy ? ` · ${d.state} by ${d.decidedBy}` : ""}
              </div>
              {d.reason && <div class="cmd-reason">{d.reason}</div>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
