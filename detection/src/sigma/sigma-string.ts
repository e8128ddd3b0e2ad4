/**
 * Sigma string values: wildcards (`*`, `?`), backslash escaping, and the compiled test that
 * compares one event value against them.
 */
import { Glob } from "./glob";

export type Part =
  | { t: "lit"; v: string }
  | { t: "star" }
  | { t: "one" }
  /** one character out of a set (produced by `windash`) */
  | { t: "cls"; chars: string };

export type SigmaString = Part[];

/**
 * Parse Sigma's escaping: `\*` and `\?` are literal wildcards, `\\` is one backslash, and a
 * backslash before any other character stays a backslash (so Windows paths need no doubling).
 */
export function parseSigmaString(raw: string): SigmaString {
  const parts: SigmaString = [];
  let lit = "";
  const flush = (): void => {
    if (lit !== "") parts.push({ t: "lit", v: lit });
    lit = "";
  };
  let escaped = false;
  for (const ch of raw) {
    if (escaped) {
      lit += ch === "*" || ch === "?" || ch === "\\" ? ch : "\\" + ch;
      escaped = false;
    } else if (ch === "\\") {
      escaped = true;
    } else if (ch === "*") {
      flush();
      parts.push({ t: "star" });
    } else if (ch === "?") {
      flush();
      parts.push({ t: "one" });
    } else {
      lit += ch;
    }
  }
  if (escaped) lit += "\\";
  flush();
  return parts;
}

export function plainString(v: string): SigmaString {
  return v === "" ? [] : [{ t: "lit", v }];
}

export function isPlain(s: SigmaString): boolean {
  return s.every((p) => p.t === "lit");
}

export function plainText(s: SigmaString): string {
  return s.map((p) => (p.t === "lit" ? p.v : "")).join("");
}

export function withStar(s: SigmaString, start: boolean, end: boolean): SigmaString {
  const out = [...s];
  if (start && out[0]?.t !== "star") out.unshift({ t: "star" });
  if (end && out[out.length - 1]?.t !== "star") out.push({ t: "star" });
  return out;
}

const DASHES = "-/\u2013\u2014\u2015";
const isWord = (c: string | undefined): boolean => c !== undefined && /\w/.test(c);

/**
 * `windash`: a dash or slash that starts a command-line flag (not preceded by a word character,
 * followed by one) matches any of - / en-dash em-dash horizontal-bar. Expressed as a character
 * class instead of the cartesian product of variants, which can explode on long command lines.
 */
export function windash(s: SigmaString): SigmaString {
  const out: SigmaString = [];
  for (let i = 0; i < s.length; i++) {
    const p = s[i];
    if (p.t !== "lit") {
      out.push(p);
      continue;
    }
    let lit = "";
    for (let j = 0; j < p.v.length; j++) {
      const c = p.v[j];
      const prev = j > 0 ? p.v[j - 1] : undefined;
      const next = j + 1 < p.v.length ? p.v[j + 1] : undefined;
      if (DASHES.includes(c) && !isWord(prev) && isWord(next)) {
        if (lit) out.push({ t: "lit", v: lit });
        lit = "";
        out.push({ t: "cls", chars: DASHES });
      } else lit += c;
    }
    if (lit) out.push({ t: "lit", v: lit });
  }
  return out;
}

/** Tests one event string; `lower` is the value already lower-cased (shared across rules). */
export type StringTest = (value: string, lower: string) => boolean;

export function compileSigmaString(s: SigmaString, cased: boolean): StringTest {
  const norm = (x: string): string => (cased ? x : x.toLowerCase());
  const pick = (v: string, l: string): string => (cased ? v : l);
  const lits = s.filter((p) => p.t === "lit").length;
  const stars = s.filter((p) => p.t === "star").length;
  if (lits + stars === s.length) {
    // Fast paths: literal, prefix, suffix, substring - the shapes nearly all rules use.
    if (s.length === 0) return (v) => v === "";
    if (stars === 0 && lits === 1) {
      const w = norm((s[0] as { v: string }).v);
      return (v, l) => pick(v, l) === w;
    }
    if (s.length === 1) return () => true; // lone '*'
    if (s.length === 2) {
      if (s[0].t === "lit" && s[1].t === "star") {
        const w = norm(s[0].v);
        return (v, l) => pick(v, l).startsWith(w);
      }
      if (s[0].t === "star" && s[1].t === "lit") {
        const w = norm(s[1].v);
        return (v, l) => pick(v, l).endsWith(w);
      }
    }
    if (s.length === 3 && s[0].t === "star" && s[1].t === "lit" && s[2].t === "star") {
      const w = norm(s[1].v);
      return (v, l) => pick(v, l).includes(w);
    }
  }
  // Anything else ('?', windash classes, several stars) goes to the linear glob matcher.
  const glob = new Glob(s, !cased);
  return (v, l) => glob.test(pick(v, l));
}

/**
 * The longest literal piece a match must contain, lower-cased, for the prefilter. Only ASCII
 * pieces qualify: lower-casing ASCII never changes neighbouring characters, so "value contains
 * piece" implies "lower(value) contains lower(piece)" even for `cased` values.
 */
export function requiredLiteral(s: SigmaString): string | null {
  let best = "";
  for (const p of s) if (p.t === "lit" && p.v.length > best.length) best = p.v;
  // eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included
  if (best.length < 2 || !/^[\x00-\x7f]*$/.test(best)) return null;
  return best.toLowerCase();
}
