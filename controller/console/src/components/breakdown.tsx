import type { ScoreFactor } from "../api/types";

/** How each score factor reads; the API's names are identifiers ("ioc"), not words. */
export const FACTOR_LABELS: Record<string, string> = {
  level: "Rule level",
  ioc: "IOC",
  asset: "Asset",
  baseline: "Baseline",
  chain: "Chain",
  feedback: "Feedback",
  clamp: "Clamp",
};

export function factorLabel(factor: string): string {
  return FACTOR_LABELS[factor] ?? factor.charAt(0).toUpperCase() + factor.slice(1);
}

/**
 * Why an alert scored what it did: one row per factor with a bar scaled to the full 0-100
 * range, so bars compare across alerts. Negative factors (analyst feedback, clamping) draw
 * in a muted colour and say "−".
 */
export function Breakdown({ factors, score }: { factors: ScoreFactor[]; score: number }) {
  return (
    <table class="breakdown">
      <caption class="sr-only">Score breakdown: {score} of 100</caption>
      <thead class="sr-only">
        <tr>
          <th scope="col">Factor</th>
          <th scope="col">Points</th>
          <th scope="col">Why</th>
        </tr>
      </thead>
      <tbody>
        {factors.map((f, i) => (
          <tr key={i}>
            <th scope="row" class="factor" data-factor={f.factor}>
              {factorLabel(f.factor)}
            </th>
            <td class="points">
              <span class="bar-track" aria-hidden="true">
                <span class={`bar ${f.points < 0 ? "bar-negative" : `bar-${f.factor}`}`} style={{ width: `${Math.min(100, Math.abs(f.points))}%` }} />
              </span>
              <span class="pts">{f.points > 0 ? `+${f.points}` : f.points < 0 ? `−${-f.points}` : "0"}</span>
            </td>
            <td class="detail">{f.detail}</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row" class="factor">
            Score
          </th>
          <td class="points">
            <span class="pts total">{score}</span>
          </td>
          <td class="detail muted">of 100</td>
        </tr>
      </tfoot>
    </table>
  );
}
