import { useEffect, useState } from "preact/hooks";
import { FINISHED, type Command } from "../api/types";
import { ago, humanize, when } from "../lib/format";
import { useSession } from "../lib/context";
import { CommandStateBadge } from "./badges";

const POLL_MS = 1000;

/**
 * Follows one command until the agent answers (succeeded, failed, refused) or it expires:
 * the live feed says when commands change, and a short poll covers a missing stream.
 */
export function useCommand(initial: Command): Command {
  const { api, live } = useSession();
  const [cmd, setCmd] = useState(initial);
  useEffect(() => {
    if (FINISHED.includes(cmd.state)) return;
    let alive = true;
    const refresh = () =>
      void api.command(cmd.id).then(
        (c) => alive && setCmd(c),
        () => {},
      );
    const timer = setInterval(refresh, POLL_MS);
    const unsub = live.subscribe(["commands"], refresh);
    return () => {
      alive = false;
      clearInterval(timer);
      unsub();
    };
  }, [cmd.id, cmd.state, api, live]);
  return cmd;
}

/** One line about a command and, once it finished, its result. */
export function CommandResult({ command, onFinish }: { command: Command; onFinish?: (c: Command) => void }) {
  const c = useCommand(command);
  const done = FINISHED.includes(c.state);
  const wasDone = FINISHED.includes(command.state);
  useEffect(() => {
    // Once, when the answer arrives: the page refreshes what the result changed (isolation state).
    if (done && !wasDone) onFinish?.(c);
  }, [done]);
  return (
    <div class={`command-result cmd-result-${c.state}`} role="status" aria-live="polite">
      <span class="cmd-type">{humanize(c.type)}</span> <CommandStateBadge state={c.state} />
      {!done && <span class="muted"> waiting for the agent…</span>}
      {done && c.finishedAt && (
        <span class="muted" title={when(c.finishedAt)}>
          {" "}
          {ago(c.finishedAt)}
        </span>
      )}
      {c.reason && !(c.state === "not_enforced" && c.reason === "not enforced (monitor)") && <div class="cmd-reason">{c.reason}</div>}
      {done && c.output !== undefined && c.output !== null && <Output value={c.output} />}
    </div>
  );
}

export function Output({ value }: { value: unknown }) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  if (text.length < 80 && !text.includes("\n")) return <code class="output-inline">{text}</code>;
  return (
    <details class="output">
      <summary>Output</summary>
      <pre>{text}</pre>
    </details>
  );
}
