/**
 * Read access to one event's fields for all rules evaluated against it. String forms and
 * lower-cased forms are computed once per field per event, not once per rule.
 */

export interface FieldValues {
  /** original values (strings; numbers and booleans as their text) */
  orig: string[];
  lower: string[];
}

const EMPTY: FieldValues = { orig: [], lower: [] };

function toText(v: unknown): string | null {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return null;
}

export class EventView {
  private cache = new Map<string, FieldValues | null>();
  private all: FieldValues | undefined;

  constructor(readonly fields: Record<string, unknown>) {}

  raw(field: string): unknown {
    return this.fields[field];
  }

  /** True when the field is present (even if empty); `null` and `undefined` count as absent. */
  has(field: string): boolean {
    const v = this.fields[field];
    return v !== undefined && v !== null;
  }

  /** The field's scalar values as text; arrays match if any element matches. null = absent. */
  values(field: string): FieldValues | null {
    const hit = this.cache.get(field);
    if (hit !== undefined) return hit;
    const v = this.fields[field];
    let out: FieldValues | null;
    if (v === undefined || v === null) out = null;
    else {
      const orig: string[] = [];
      for (const x of Array.isArray(v) ? v : [v]) {
        const t = toText(x);
        if (t !== null) orig.push(t);
      }
      out = orig.length ? { orig, lower: orig.map((s) => s.toLowerCase()) } : EMPTY;
    }
    this.cache.set(field, out);
    return out;
  }

  /** Every scalar value of every field, for keyword (full-text) search. */
  allValues(): FieldValues {
    if (this.all) return this.all;
    const orig: string[] = [];
    for (const k of Object.keys(this.fields)) {
      const f = this.values(k);
      if (f) orig.push(...f.orig);
    }
    this.all = { orig, lower: orig.map((s) => s.toLowerCase()) };
    return this.all;
  }
}
