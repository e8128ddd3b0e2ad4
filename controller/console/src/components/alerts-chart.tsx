import type { Alert, Level } from "../api/types";

export const LEVELS: Level[] = ["critical", "high", "medium", "low", "informational"];

export interface ChartWindow {
  label: string;
  spanMs: number;
  bucketMs: number;
}

export const WINDOWS: ChartWindow[] = [
  { label: "6 h", spanMs: 6 * 3600_000, bucketMs: 15 * 60_000 },
  { label: "24 h", spanMs: 24 * 3600_000, bucketMs: 3600_000 },
  { label: "7 d", spanMs: 7 * 86400_000, bucketMs: 6 * 3600_000 },
];

/** Counts per bucket and level; pure so the bucketing is easy to reason about. */
export function bucketize(alerts: Alert[], w: ChartWindow, now: number): { start: number; counts: Record<Level, number> }[] {
  const end = Math.ceil(now / w.bucketMs) * w.bucketMs;
  const n = Math.round(w.spanMs / w.bucketMs);
  const start = end - n * w.bucketMs;
  const buckets = Array.from({ length: n }, (_, i) => ({ start: start + i * w.bucketMs, counts: { critical: 0, high: 0, medium: 0, low: 0, informational: 0 } as Record<Level, number> }));
  for (const a of alerts) {
    const t = Date.parse(a.firstSeen);
    const i = Math.floor((t - start) / w.bucketMs);
    if (i < 0 || i >= n) continue;
    const level = LEVELS.includes(a.rule.level) ? a.rule.level : "informational";
    buckets[i].counts[level]++;
  }
  return buckets;
}

const W = 1100;
const H = 150;
const PAD = { left: 28, right: 8, top: 8, bottom: 20 };

const tick = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

/** Alerts raised over time, stacked by rule level: a small inline SVG (no chart library, no CDN). */
export function AlertsChart({ alerts, window: w, now }: { alerts: Alert[]; window: ChartWindow; now: number }) {
  const buckets = bucketize(alerts, w, now);
  const totals = buckets.map((b) => LEVELS.reduce((s, l) => s + b.counts[l], 0));
  const max = Math.max(1, ...totals);
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const bw = innerW / buckets.length;
  const y = (v: number) => (v / max) * innerH;
  const byLevel = LEVELS.map((l) => [l, buckets.reduce((s, b) => s + b.counts[l], 0)] as const);
  const total = byLevel.reduce((s, [, n]) => s + n, 0);
  const summary =
    `${total} alerts raised in the last ${w.label}` +
    (total
      ? `: ${byLevel
          .filter(([, n]) => n)
          .map(([l, n]) => `${n} ${l}`)
          .join(", ")}`
      : "");
  const labelEvery = Math.ceil(buckets.length / 6);
  const fmt = (t: number) => (w.spanMs > 86400_000 ? day.format(t) : tick.format(t));

  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={summary}>
        <line class="axis" x1={PAD.left} x2={W - PAD.right} y1={PAD.top + innerH} y2={PAD.top + innerH} />
        <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={PAD.top} y2={PAD.top} />
        <text class="axis-label" x={PAD.left - 4} y={PAD.top + 4} text-anchor="end">
          {max}
        </text>
        <text class="axis-label" x={PAD.left - 4} y={PAD.top + innerH} text-anchor="end">
          0
        </text>
        {buckets.map((b, i) => {
          let acc = 0;
          const x = PAD.left + i * bw;
          return (
            <g key={b.start}>
              {LEVELS.map((l) => {
                const v = b.counts[l];
                if (!v) return null;
                const h = y(v);
                acc += h;
                return (
                  <rect class={`fill-${l}`} x={x + 1} width={Math.max(1, bw - 2)} y={PAD.top + innerH - acc} height={h}>
                    <title>{`${fmt(b.start)}: ${v} ${l}`}</title>
                  </rect>
                );
              })}
              {i % labelEvery === 0 && (
                <text class="axis-label" x={x} y={H - 5}>
                  {fmt(b.start)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <ul class="legend">
          {byLevel.map(([l, n]) => (
            <li key={l}>
              <span class={`swatch fill-${l}`} aria-hidden="true" />
              {l} <strong>{n}</strong>
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
