import { useState } from "preact/hooks";
import type { Alert, Verdict } from "../api/types";
import { useSession } from "../lib/context";
import { when } from "../lib/format";
import { LevelBadge, ScoreBadge, StateBadge } from "./badges";
import { Breakdown } from "./breakdown";

/** One alert of a case: what fired, on what, how often, why it scored so, and the analyst's verdict. */
export function AlertCard({ alert: a, highlighted, onChanged }: { alert: Alert; highlighted?: boolean; onChanged: () => void }) {
  const { api } = useSession();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const verdict = async (v: Verdict) => {
    setBusy(true);
    setError(null);
    try {
      await api.feedback(a.id, v);
      onChanged();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <article class={`alert-card${highlighted ? " highlighted" : ""}`} id={`alert-${a.id}`} aria-labelledby={`alert-title-${a.id}`} tabIndex={-1}>
      <header class="alert-card-header">
        <ScoreBadge score={a.score} />
        <div class="alert-card-title">
          <h3 id={`alert-title-${a.id}`}>{a.rule.title}</h3>
          <div class="meta">
            <LevelBadge level={a.rule.level} /> <span class="entity"><span class="muted">{a.entity.kind}</span> {a.entity.value}</span>
            {" · "}
            {a.count} {a.count === 1 ? "time" : "times"} · {when(a.firstSeen)}
            {a.count > 1 && ` → ${when(a.lastSeen)}`} · <StateBadge state={a.state} verdict={a.verdict} />
          </div>
        </div>
      </header>
      <Breakdown factors={a.breakdown} score={a.score} />
      <div class="verdict-row">
        <span class="muted">Verdict on this alert:</span>
        <button type="button" class="btn btn-small" disabled={busy} aria-pressed={a.verdict === "true_positive"} onClick={() => void verdict("true_positive")}>
          True positive
        </button>
        <button type="button" class="btn btn-small" disabled={busy} aria-pressed={a.verdict === "false_positive"} onClick={() => void verdict("false_positive")}>
          False positive
        </button>
        {error && <span class="error" role="alert">{error}</span>}
      </div>
    </article>
  );
}
