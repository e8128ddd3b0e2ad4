/**
 * Compiles one detection item `Field|mod1|mod2: value(s)` (or a keyword list) into a test over
 * an event, plus the literals a match must contain (for the prefilter).
 */
import { compileCidr } from "./cidr";
import { base64, base64Offsets, bytesAsText, utf16, type Encoding } from "./encodings";
import { fail } from "./errors";
import type { EventView, FieldValues } from "./event-view";
import { compileSigmaString, parseSigmaString, plainString, isPlain, plainText, requiredLiteral, windash, withStar, type SigmaString, type StringTest } from "./sigma-string";
import { compileRegex } from "./regex";
import { expandPlaceholders } from "./placeholders";
import { timePart, type TimePart } from "./time-parts";

export type EventTest = (ev: EventView) => boolean;

export interface FieldMatcher {
  test: EventTest;
  /** A match requires `field` (lower-cased) to contain one of these needles; null = no such guarantee. */
  key: { field: string; needles: string[] } | null;
}

export interface FieldOptions {
  /** Values for `expand` placeholders, e.g. { Administrators: ["root", "admin"] }. */
  placeholders?: Record<string, string[]>;
}

const TRANSFORMS = new Set(["contains", "startswith", "endswith", "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide", "windash"]);
const NUMERIC = new Set(["lt", "lte", "gt", "gte"]);
const TIME = new Set(["minute", "hour", "day", "week", "month", "year"]);
const FLAGS = new Set(["all", "cased", "neq", "exists", "re", "i", "m", "s", "cidr", "fieldref", "expand"]);
const KNOWN_AFTER_RE = new Set(["i", "m", "s", "all", "neq", "ignorecase", "multiline", "dotall"]);

type Val = { k: "str"; s: SigmaString } | { k: "bytes"; b: Buffer };

/** `field` null = keyword search over all field values. */
export function compileFieldItem(field: string | null, mods: string[], raw: unknown, opts: FieldOptions): FieldMatcher {
  for (const m of mods) {
    if (!TRANSFORMS.has(m) && !NUMERIC.has(m) && !TIME.has(m) && !FLAGS.has(m) && !KNOWN_AFTER_RE.has(m)) fail(`unknown value modifier '${m}'`, `modifier '${m}'`);
  }
  const has = (m: string): boolean => mods.includes(m);
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length === 0) fail(`empty value list`, "empty list");
  const all = has("all");
  const cased = has("cased");
  if (field === null && mods.some((m) => m !== "all" && m !== "cased")) fail(`keyword lists only support the 'all' and 'cased' modifiers (got '${mods.join("|")}')`, "keyword modifiers");

  if (has("exists")) {
    if (values.length !== 1 || typeof values[0] !== "boolean") fail(`'exists' needs true or false`, "modifier 'exists'");
    const want = values[0] as boolean;
    const f = field as string;
    return { test: (ev) => ev.has(f) === want, key: null };
  }

  let tests: EventTest[];
  let needles: (string[] | null)[] = [];
  const tp = mods.find((m) => TIME.has(m)) as TimePart | undefined;
  const num = mods.find((m) => NUMERIC.has(m));
  if (tp || num) tests = values.map((v) => numericTest(field, v, num, tp));
  else if (has("re")) tests = values.map((v) => regexTest(field, v, mods));
  else if (has("cidr")) tests = values.map((v) => cidrTest(field, v));
  else if (has("fieldref")) tests = values.map((v) => fieldrefTest(field, v, mods, cased));
  else {
    tests = [];
    for (const v of values) {
      if (v === null) {
        if (field === null) fail(`null is not a keyword`, "null keyword");
        const f = field;
        tests.push((ev) => !ev.has(f));
        needles.push(null);
        continue;
      }
      if (typeof v === "object") fail(`value ${JSON.stringify(v)} is not a string or number`, "nested value");
      const texts = has("expand") ? expandPlaceholders(String(v), opts.placeholders ?? {}) : [String(v)];
      const strs = texts.flatMap((t) => applyTransforms(t, mods, field === null));
      const compiled = strs.map((s) => compileSigmaString(s, cased));
      const lits = strs.map(requiredLiteral);
      needles.push(lits.every((l): l is string => l !== null) ? (lits as string[]) : null);
      const one: StringTest = compiled.length === 1 ? compiled[0] : (s, l) => compiled.some((c) => c(s, l));
      tests.push(field === null ? (ev) => anyValue(ev.allValues(), one) : stringTest(field, one));
    }
  }

  let test: EventTest;
  if (tests.length === 1) test = tests[0];
  else if (all) test = (ev) => tests.every((t) => t(ev));
  else test = (ev) => tests.some((t) => t(ev));

  if (has("neq")) {
    const inner = test;
    const f = field as string;
    // "different from the values": the field must be present, and match none of them.
    test = (ev) => ev.has(f) && !inner(ev);
    needles = [];
  }
  return { test, key: field === null ? null : keyFor(field, needles, all) };
}

function keyFor(field: string, split: (string[] | null)[], all: boolean): FieldMatcher["key"] {
  if (split.length === 0) return null;
  if (all) {
    // Any one value must match, so its needles alone guard the item: take the most selective.
    const ok = split.filter((x): x is string[] => x !== null);
    if (!ok.length) return null;
    ok.sort((a, b) => Math.min(...b.map((s) => s.length)) - Math.min(...a.map((s) => s.length)));
    return { field, needles: ok[0] };
  }
  if (split.some((x) => x === null)) return null;
  return { field, needles: (split as string[][]).flat() };
}

function anyValue(fv: FieldValues, t: StringTest): boolean {
  for (let i = 0; i < fv.orig.length; i++) if (t(fv.orig[i], fv.lower[i])) return true;
  return false;
}

function stringTest(field: string, t: StringTest): EventTest {
  return (ev) => {
    const fv = ev.values(field);
    return fv !== null && anyValue(fv, t);
  };
}

function applyTransforms(text: string, mods: string[], keyword: boolean): SigmaString[] {
  const encodes = mods.some((m) => m.startsWith("base64") || m.startsWith("utf16") || m === "wide");
  let vals: Val[] = [{ k: "str", s: encodes ? plainString(text) : parseSigmaString(text) }];
  if (encodes && !isPlain(parseSigmaString(text))) fail(`encoding modifiers cannot encode wildcards ('${text}')`, "wildcard in encoded value");
  for (const m of mods) {
    if (!TRANSFORMS.has(m)) continue;
    vals = vals.flatMap((v): Val[] => {
      switch (m) {
        case "contains":
        case "startswith":
        case "endswith":
          return [{ k: "str", s: withStar(asStr(v), m !== "startswith", m !== "endswith") }];
        case "base64":
          return [{ k: "str", s: plainString(base64(asBytes(v))) }];
        case "base64offset":
          return base64Offsets(asBytes(v)).map((s) => ({ k: "str", s: plainString(s) }));
        case "windash":
          return [{ k: "str", s: windash(asStr(v)) }];
        default:
          return [{ k: "bytes", b: utf16(plainText(asStr(v)), m as Encoding) }];
      }
    });
  }
  // Keywords search anywhere in the event, as full-text search does.
  return vals.map((v) => (keyword && !mods.includes("contains") ? withStar(asStr(v), true, true) : asStr(v)));
}

function asStr(v: Val): SigmaString {
  return v.k === "str" ? v.s : plainString(bytesAsText(v.b));
}

function asBytes(v: Val): Buffer {
  if (v.k === "bytes") return v.b;
  if (!isPlain(v.s)) fail(`encoding modifiers must come before contains/startswith/endswith`, "modifier order");
  return Buffer.from(plainText(v.s), "utf8");
}

function numericTest(field: string | null, v: unknown, op: string | undefined, tp: TimePart | undefined): EventTest {
  const want = typeof v === "number" ? v : Number(v);
  if (field === null || typeof v === "boolean" || v === null || v === "" || !Number.isFinite(want))
    fail(`'${op ?? tp}' needs a field and a numeric value (got ${JSON.stringify(v)})`, `modifier '${op ?? tp}'`);
  const cmp = (x: number): boolean => (op === "lt" ? x < want : op === "lte" ? x <= want : op === "gt" ? x > want : op === "gte" ? x >= want : x === want);
  return (ev) => {
    const fv = ev.values(field);
    if (!fv) return false;
    for (const s of fv.orig) {
      const x = tp ? timePart(s, tp) : s.trim() === "" ? NaN : Number(s);
      if (!Number.isNaN(x) && cmp(x)) return true;
    }
    return false;
  };
}

function regexTest(field: string | null, v: unknown, mods: string[]): EventTest {
  if (typeof v !== "string") fail(`'re' needs a string pattern`, "modifier 're'");
  const re = compileRegex(v, mods);
  if (field === null) return (ev) => ev.allValues().orig.some((s) => re.test(s));
  return (ev) => ev.values(field)?.orig.some((s) => re.test(s)) ?? false;
}

function cidrTest(field: string | null, v: unknown): EventTest {
  if (field === null || typeof v !== "string") fail(`'cidr' needs a field and a network string`, "modifier 'cidr'");
  let inNet: (s: string) => boolean;
  try {
    inNet = compileCidr(v);
  } catch (e) {
    fail((e as Error).message, "modifier 'cidr'");
  }
  return (ev) => ev.values(field)?.orig.some(inNet) ?? false;
}

function fieldrefTest(field: string | null, v: unknown, mods: string[], cased: boolean): EventTest {
  if (field === null || typeof v !== "string") fail(`'fieldref' needs a field and a field name`, "modifier 'fieldref'");
  const mode = mods.includes("contains") ? "contains" : mods.includes("startswith") ? "startswith" : mods.includes("endswith") ? "endswith" : "eq";
  const other = v;
  return (ev) => {
    const a = ev.values(field);
    const b = ev.values(other);
    if (!a || !b) return false;
    const as = cased ? a.orig : a.lower;
    const bs = cased ? b.orig : b.lower;
    return as.some((x) => bs.some((y) => (mode === "eq" ? x === y : mode === "contains" ? x.includes(y) : mode === "startswith" ? x.startsWith(y) : x.endsWith(y))));
  };
}
