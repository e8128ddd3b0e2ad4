import type { AlertState, CommandState, Verdict } from "../api/types";
import { humanize, scoreBand } from "../lib/format";

/** Score as a coloured number: the band (colour) reads at a glance, the number for precision. */
export function ScoreBadge({ score }: { score: number }) {
  return (
    <span class={`score score-${scoreBand(score)}`} title={`score ${score} of 100`}>
      {score}
    </span>
  );
}

// A Level, or whatever level string the server sent (shown as is).
export function LevelBadge({ level }: { level: string }) {
  return <span class={`badge level-${level}`}>{level === "informational" ? "info" : level}</span>;
}

export function StateBadge({ state, verdict }: { state: AlertState; verdict?: Verdict | null }) {
  const text = state === "resolved" && verdict ? `resolved · ${verdict === "true_positive" ? "true positive" : "false positive"}` : state;
  return <span class={`badge state-${state}`}>{text}</span>;
}

export function CommandStateBadge({ state }: { state: CommandState }) {
  // Monitor mode: the agent reported what it would do and did nothing; never shown as a success.
  return <span class={`badge cmd-${state}`}>{state === "not_enforced" ? "not enforced (monitor)" : humanize(state)}</span>;
}

/** Connected but its telemetry refused or stalled is not online: said so, with the reason on hover. */
export function OnlineBadge({ online, telemetry, reason }: { online: boolean; telemetry?: string; reason?: string | null }) {
  const blind = !online && (telemetry === "refused" || telemetry === "stalled");
  return (
    <span class={`status ${online ? "status-online" : blind ? "status-blind" : "status-offline"}`} title={blind ? (reason ?? undefined) : undefined}>
      <span class="dot" aria-hidden="true" />
      {online ? "online" : blind ? `telemetry ${telemetry}` : "offline"}
    </span>
  );
}
