import type { Steps } from "./time-slice";

export type JsonParse = { ok: true; value: unknown } | { ok: false; error: string };

/** Characters scanned between two yields while finding where a value ends. */
const SCAN_SLICE = 64 * 1024;

class JsonSyntax extends Error {}

/**
 * JSON.parse for documents made of many small values (a STIX bundle: one object holding an
 * array of 100k indicators), in steps: the top-level object's or array's members, and the
 * elements of arrays directly inside it, are found by a linear scan and each parsed on its own,
 * so no single step parses more than one of them. Every value is still parsed by JSON.parse,
 * which does the validation; the scan only cuts the text at the right places.
 */
export function* parseJsonSteps(text: string): Steps<JsonParse> {
  const s = new Scanner(text);
  try {
    s.ws();
    const c = text[s.i];
    let value: unknown;
    if (c === "{") value = yield* s.object(true);
    else if (c === "[") value = yield* s.array(true);
    else value = s.parse(text.length);
    s.ws();
    if (s.i < text.length) throw new JsonSyntax(`unexpected text at position ${s.i}`);
    return { ok: true, value };
  } catch (e) {
    if (e instanceof JsonSyntax || e instanceof SyntaxError) return { ok: false, error: e.message };
    throw e;
  }
}

class Scanner {
  i = 0;
  constructor(private readonly t: string) {}

  ws(): void {
    const t = this.t;
    while (this.i < t.length && (t[this.i] === " " || t[this.i] === "\n" || t[this.i] === "\r" || t[this.i] === "\t")) this.i++;
  }

  /** JSON.parse of text[i, end), then i = end. */
  parse(end: number): unknown {
    const v: unknown = JSON.parse(this.t.slice(this.i, end));
    this.i = end;
    return v;
  }

  expect(c: string): void {
    this.ws();
    if (this.t[this.i] !== c) throw new JsonSyntax(`expected '${c}' at position ${this.i}`);
    this.i++;
  }

  /** Members of an object; with split, arrays among its values are parsed element by element. */
  *object(split: boolean): Steps<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    this.expect("{");
    this.ws();
    if (this.t[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.t[this.i] !== '"') throw new JsonSyntax(`expected a property name at position ${this.i}`);
      const key = this.parse(yield* this.end()) as string;
      this.expect(":");
      this.ws();
      const v = split && this.t[this.i] === "[" ? yield* this.array(false) : this.parse(yield* this.end());
      // As JSON.parse does: a later duplicate wins; "__proto__" stays an own property.
      Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      this.ws();
      if (this.t[this.i] === ",") {
        this.i++;
        continue;
      }
      this.expect("}");
      return out;
    }
  }

  *array(split: boolean): Steps<unknown[]> {
    const out: unknown[] = [];
    this.expect("[");
    this.ws();
    if (this.t[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      const c = this.t[this.i];
      out.push(split && c === "{" ? yield* this.object(false) : split && c === "[" ? yield* this.array(false) : this.parse(yield* this.end()));
      yield;
      this.ws();
      if (this.t[this.i] === ",") {
        this.i++;
        continue;
      }
      this.expect("]");
      return out;
    }
  }

  /** Where the value starting at i ends (strings and nesting skipped); yields on long values. */
  *end(): Steps<number> {
    const t = this.t;
    const n = t.length;
    let j = this.i;
    const first = t.charCodeAt(j);
    if (first === 34 /* " */) return yield* this.stringEnd(j);
    if (first !== 123 && first !== 91 /* { [ */) {
      // A number, true, false or null: up to the next delimiter; JSON.parse judges it.
      while (j < n && !DELIMS.has(t.charCodeAt(j))) j++;
      if (j === this.i) throw new JsonSyntax(`expected a value at position ${j}`);
      return j;
    }
    let depth = 0;
    let budget = SCAN_SLICE;
    while (j < n) {
      if (--budget === 0) {
        budget = SCAN_SLICE;
        yield;
      }
      const c = t.charCodeAt(j);
      if (c === 34) {
        j = yield* this.stringEnd(j);
        continue;
      }
      if (c === 123 || c === 91) depth++;
      else if (c === 125 || c === 93) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
    throw new JsonSyntax("unexpected end of JSON input");
  }

  /** Just past the closing quote of the string that opens at j. */
  private *stringEnd(j: number): Steps<number> {
    const t = this.t;
    const n = t.length;
    let budget = SCAN_SLICE;
    for (j++; j < n;) {
      if (--budget === 0) {
        budget = SCAN_SLICE;
        yield;
      }
      const c = t.charCodeAt(j);
      if (c === 34) return j + 1;
      j += c === 92 /* \ */ ? 2 : 1;
    }
    throw new JsonSyntax("unterminated string");
  }
}

/** What ends a number or literal: , : } ] and JSON whitespace. */
const DELIMS = new Set([44, 58, 125, 93, 32, 10, 13, 9]);
