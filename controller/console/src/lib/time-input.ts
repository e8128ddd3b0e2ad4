// <input type="datetime-local"> speaks local wall-clock time without a zone; the URL and the API
// speak ISO 8601 instants. These convert between the two.

const pad = (n: number) => String(n).padStart(2, "0");

/** ISO instant → "2026-12-03T14:05:09" in the analyst's zone; "" for nothing or nonsense. */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** The input's local wall-clock value → ISO instant; undefined when empty or unparseable. */
export function fromLocalInput(v: string): string | undefined {
  if (!v) return undefined;
  const d = new Date(v); // no zone designator: parsed as local time
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
