import type { Verdict } from "../api/types";
import { useVerdict } from "../lib/use-verdict";

/** An analyst's verdict on one alert (it feeds the rule's weight in scoring); the current one is pressed. */
export function VerdictButtons({ alert: a, onChanged }: { alert: { id: string; verdict: Verdict | null }; onChanged: () => void }) {
  const { busy, error, give } = useVerdict(a.id, onChanged);
  return (
    <div class="verdict-row">
      <span class="muted">Verdict on this alert:</span>
      <button type="button" class="btn btn-small" disabled={busy} aria-pressed={a.verdict === "true_positive"} onClick={() => void give("true_positive")}>
        True positive
      </button>
      <button type="button" class="btn btn-small" disabled={busy} aria-pressed={a.verdict === "false_positive"} onClick={() => void give("false_positive")}>
        False positive
      </button>
      {error && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}
