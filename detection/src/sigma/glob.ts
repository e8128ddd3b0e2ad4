/**
 * Wildcard matching without a backtracking RegExp. Rule values (`*`, `?`, windash classes),
 * suppression patterns and condition globs used to become `^...[\s\S]*...$` regular expressions,
 * which V8 matches by backtracking: `*a*a*a…*b` against a host-controlled value costs
 * O(n^stars) and froze the controller for 68 s on 40 characters.
 *
 * A glob is a run of fixed-length segments separated by stars. The first segment is anchored at
 * the start, the last at the end, and every middle one is taken at its leftmost occurrence after
 * the previous one: a later occurrence can never leave more room for the rest, so that choice is
 * final and nothing is ever retried. Literal segments are found with indexOf; segments with `?`
 * or classes with shift-and. Cost: O(value length × ⌈longest segment / 32⌉), whatever the number
 * of stars.
 */

/** One position of a segment: a literal character, any character (`?`), or one of a set. */
type Atom = { t: "lit"; v: string } | { t: "one" } | { t: "cls"; chars: string };

/** The pieces a glob is written in (the same shape as a parsed Sigma string). */
export type GlobPart = Atom | { t: "star" };

interface Segment {
  /** One entry per character (UTF-16 unit): a literal char, null for any, or a set of chars. */
  atoms: (string | null | { set: string })[];
  /** The segment as a plain string when it has no `?` or class (searched with indexOf). */
  literal?: string;
  /** Otherwise: shift-and masks, searched in O(value × ⌈length / 32⌉) whatever the value holds. */
  shiftAnd?: ShiftAnd;
}

/**
 * Shift-and (bitap) search for a fixed-length segment with `?` and class positions: one bit per
 * position, all positions advanced together for each character of the value, so the search never
 * goes back. Positions beyond 32 use more words.
 */
class ShiftAnd {
  readonly words: number;
  private readonly byChar = new Map<string, Uint32Array>();
  private readonly any: Uint32Array;
  private readonly lastWord: number;
  private readonly lastBit: number;

  constructor(atoms: Segment["atoms"]) {
    this.words = Math.ceil(atoms.length / 32);
    this.any = new Uint32Array(this.words);
    this.lastWord = (atoms.length - 1) >> 5;
    this.lastBit = 1 << ((atoms.length - 1) & 31);
    const set = (m: Uint32Array, j: number): void => {
      m[j >> 5] |= 1 << (j & 31);
    };
    atoms.forEach((a, j) => {
      if (a === null) set(this.any, j);
    });
    const maskOf = (c: string): Uint32Array => {
      let m = this.byChar.get(c);
      if (!m) {
        m = Uint32Array.from(this.any);
        this.byChar.set(c, m);
      }
      return m;
    };
    // Chars first seen after some `?` positions were set still get them: masks start as a copy of `any`.
    atoms.forEach((a, j) => {
      if (typeof a === "string") set(maskOf(a), j);
      else if (a !== null) for (const c of a.set) set(maskOf(c), j);
    });
  }

  /** Leftmost start in [from, end - length] where the segment matches, or -1. */
  find(value: string, from: number, end: number, len: number, meter?: StepMeter): number {
    const w = this.words;
    const d = new Uint32Array(w);
    for (let i = from; i < end; i++) {
      const m = this.byChar.get(value[i]) ?? this.any;
      let carry = 1;
      for (let k = 0; k < w; k++) {
        const next = d[k] >>> 31;
        d[k] = ((d[k] << 1) | carry) & m[k];
        carry = next;
      }
      if (meter) meter.steps += w;
      if (d[this.lastWord] & this.lastBit) return i - len + 1;
    }
    return -1;
  }
}

/** Counts characters examined, so tests can prove the cost grows linearly with the value. */
export interface StepMeter {
  steps: number;
}

export class Glob {
  private readonly segments: Segment[];
  private readonly anchoredStart: boolean;
  private readonly anchoredEnd: boolean;

  /** `lower`: the pattern is lower-cased here; the caller passes lower-cased values. */
  constructor(parts: readonly GlobPart[], lower: boolean) {
    const norm = (s: string): string => (lower ? s.toLowerCase() : s);
    this.anchoredStart = parts[0]?.t !== "star";
    this.anchoredEnd = parts.length === 0 || parts[parts.length - 1].t !== "star";
    this.segments = [];
    let cur: Segment["atoms"] = [];
    const close = (): void => {
      const literal = cur.every((a) => typeof a === "string") ? (cur as string[]).join("") : undefined;
      this.segments.push(literal !== undefined ? { atoms: cur, literal } : { atoms: cur, shiftAnd: new ShiftAnd(cur) });
      cur = [];
    };
    for (const p of parts) {
      if (p.t === "star") {
        close();
        continue;
      }
      if (p.t === "lit") for (const ch of norm(p.v)) for (let i = 0; i < ch.length; i++) cur.push(ch[i]);
      else if (p.t === "one") cur.push(null);
      else cur.push({ set: norm(p.chars) });
    }
    close();
  }

  test(value: string, meter?: StepMeter): boolean {
    const segs = this.segments;
    const n = value.length;
    if (segs.length === 1) {
      // No star at all: the whole value is the one segment.
      const s = segs[0];
      return n === s.atoms.length && this.at(s, value, 0, meter);
    }
    let pos = 0;
    let first = 0;
    let last = segs.length - 1;
    if (this.anchoredStart) {
      const s = segs[0];
      if (s.atoms.length > n || !this.at(s, value, 0, meter)) return false;
      pos = s.atoms.length;
      first = 1;
    }
    let tailStart = n;
    if (this.anchoredEnd) {
      const s = segs[last];
      tailStart = n - s.atoms.length;
      if (tailStart < pos || !this.at(s, value, tailStart, meter)) return false;
      last -= 1;
    }
    for (let i = first; i <= last; i++) {
      const s = segs[i];
      if (s.atoms.length === 0) continue;
      const at = this.find(s, value, pos, tailStart, meter);
      if (at < 0) return false;
      pos = at + s.atoms.length;
    }
    return pos <= tailStart;
  }

  /** Leftmost start >= from where `s` fits entirely before `end`, or -1. */
  private find(s: Segment, value: string, from: number, end: number, meter?: StepMeter): number {
    const len = s.atoms.length;
    if (s.literal !== undefined) {
      const at = value.indexOf(s.literal, from);
      if (meter) meter.steps += (at < 0 ? value.length : at + len) - from;
      return at >= 0 && at + len <= end ? at : -1;
    }
    return s.shiftAnd!.find(value, from, end, len, meter);
  }

  private at(s: Segment, value: string, start: number, meter?: StepMeter): boolean {
    if (s.literal !== undefined) {
      if (meter) meter.steps += s.literal.length;
      return value.startsWith(s.literal, start);
    }
    const atoms = s.atoms;
    for (let j = 0; j < atoms.length; j++) {
      if (meter) meter.steps++;
      const a = atoms[j];
      const c = value[start + j];
      if (c === undefined) return false;
      if (a === null) continue;
      if (typeof a === "string" ? a !== c : !a.set.includes(c)) return false;
    }
    return true;
  }
}

/**
 * Parses a plain wildcard pattern (`*` any run, `?` one character, `\*` `\?` `\\` literal, any
 * other backslash kept as is), the syntax of suppressions and condition `1 of sel*`.
 */
export function parseWildcard(pattern: string): GlobPart[] {
  const parts: GlobPart[] = [];
  let lit = "";
  const flush = (): void => {
    if (lit !== "") parts.push({ t: "lit", v: lit });
    lit = "";
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\" && i + 1 < pattern.length && "\\*?".includes(pattern[i + 1])) lit += pattern[++i];
    else if (c === "*" || c === "?") {
      flush();
      parts.push(c === "*" ? { t: "star" } : { t: "one" });
    } else lit += c;
  }
  flush();
  return parts;
}
