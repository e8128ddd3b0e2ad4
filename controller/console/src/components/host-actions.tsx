import { useState } from "preact/hooks";
import type { Command } from "../api/types";
import { useSession } from "../lib/context";
import { CommandResult } from "./command-result";
import { ConfirmDialog } from "./confirm-dialog";

export interface HostActionsProps {
  agentId: string;
  hostname: string;
  isolated: boolean;
  /** An isolate/release already on its way: no second one until the agent answered. */
  busy?: boolean;
  caseId?: string;
  /** Called with the issued command, so the page can show it in its own place. */
  onIssued?: (c: Command) => void;
  /** Show the command's progress and result right here. */
  inlineResult?: boolean;
}

/** Isolate or release a host, after a confirmation that says what will happen. */
export function HostActions(p: HostActionsProps) {
  const { api } = useSession();
  const [asking, setAsking] = useState(false);
  const [issued, setIssued] = useState<Command | null>(null);
  const [error, setError] = useState<string | null>(null);
  const verb = p.isolated ? "Release" : "Isolate";

  const run = async (reason: string) => {
    setAsking(false);
    setError(null);
    try {
      const why = reason || `${verb.toLowerCase()}d from the web console`;
      const c = p.isolated ? await api.release(p.agentId, why, p.caseId) : await api.isolate(p.agentId, why, p.caseId);
      setIssued(c);
      p.onIssued?.(c);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <div class="host-actions">
      <button type="button" class={`btn btn-small ${p.isolated ? "" : "btn-danger-outline"}`} disabled={p.busy} onClick={() => setAsking(true)} aria-label={`${verb} ${p.hostname}`}>
        {verb}
      </button>
      {asking && (
        <ConfirmDialog
          title={`${verb} ${p.hostname}?`}
          confirmLabel={`${verb} host`}
          danger={!p.isolated}
          reasonLabel="Reason (kept in the audit trail)"
          onCancel={() => setAsking(false)}
          onConfirm={(r) => void run(r)}
        >
          {p.isolated ? (
            <p>The agent removes its firewall isolation and the host can talk to the network again.</p>
          ) : (
            <p>
              The agent cuts <strong>{p.hostname}</strong> off the network: only the controller stays reachable. Running services on the host stop serving users until it is released. If the agent is
              offline, the command waits until it reconnects.
            </p>
          )}
        </ConfirmDialog>
      )}
      {error && (
        <p class="error" role="alert">
          {verb} failed: {error}
        </p>
      )}
      {p.inlineResult && issued && <CommandResult command={issued} />}
    </div>
  );
}
