import { ago, clock, iso, when } from "../lib/format";

/**
 * Every time the console shows, one way: local time with its zone (or how long ago), and the exact
 * UTC ISO 8601 instant on hover.
 */
export function Time({ at, format = "when" }: { at: string | null | undefined; format?: "when" | "clock" | "ago" }) {
  if (!at) return <span class="muted">—</span>;
  const text = format === "clock" ? clock(at) : format === "ago" ? ago(at) : when(at);
  return (
    <time dateTime={iso(at)} title={format === "ago" ? `${when(at)} (${iso(at)})` : iso(at)}>
      {text}
    </time>
  );
}
