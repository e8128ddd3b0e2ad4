/**
 * Sigma condition expressions: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
 * `1 of them`, `all of them`. Precedence (loosest first): or, and, not, x of, ( ).
 */
import { fail } from "./errors";
import { Glob, type GlobPart } from "./glob";

export type Cond =
  | { op: "and" | "or"; args: Cond[] }
  | { op: "not"; arg: Cond }
  | { op: "id"; name: string }
  /** `count` = "all" or the minimum number of matching identifiers */
  | { op: "of"; count: number | "all"; names: string[]; pattern: string };

type Tok = { kind: "word" | "lp" | "rp"; text: string; pos: number };

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  const re = /\s*(?:(\()|(\))|([^\s()]+))/gy;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(src)) !== null && m[0] !== "") {
    const pos = m.index + m[0].length - (m[1] ?? m[2] ?? m[3]).length;
    out.push(m[1] ? { kind: "lp", text: "(", pos } : m[2] ? { kind: "rp", text: ")", pos } : { kind: "word", text: m[3], pos });
    last = re.lastIndex;
  }
  if (src.slice(last).trim() !== "") fail(`cannot read condition at '${src.slice(last)}'`, "condition syntax");
  return out;
}

// `1 of sel*`: identifier globs (rule input), matched without a backtracking RegExp. Here `*` and
// `?` are always wildcards; a backslash is an ordinary character.
const globMatcher = (pattern: string): Glob =>
  new Glob(
    [...pattern].map((c): GlobPart => (c === "*" ? { t: "star" } : c === "?" ? { t: "one" } : { t: "lit", v: c })),
    false,
  );

/** Parse `src`; `identifiers` are the detection's search identifiers (for `of` and name checks). */
export function parseCondition(src: string, identifiers: string[]): Cond {
  if (/\|/.test(src)) fail(`aggregation expressions ('| count() ...') are not supported; write a correlation rule instead`, "condition aggregation");
  const toks = tokenize(src);
  let i = 0;
  const peek = (): Tok | undefined => toks[i];
  const isWord = (w: string): boolean => peek()?.kind === "word" && peek()!.text.toLowerCase() === w;

  const parseOr = (): Cond => {
    const args = [parseAnd()];
    while (isWord("or")) {
      i++;
      args.push(parseAnd());
    }
    return args.length === 1 ? args[0] : { op: "or", args };
  };
  const parseAnd = (): Cond => {
    const args = [parseNot()];
    while (isWord("and")) {
      i++;
      args.push(parseNot());
    }
    return args.length === 1 ? args[0] : { op: "and", args };
  };
  const parseNot = (): Cond => {
    if (isWord("not")) {
      i++;
      return { op: "not", arg: parseNot() };
    }
    return parseAtom();
  };
  const parseAtom = (): Cond => {
    const t = peek();
    if (!t) fail(`condition '${src}' ends unexpectedly`, "condition syntax");
    if (t.kind === "lp") {
      i++;
      const inner = parseOr();
      if (peek()?.kind !== "rp") fail(`missing ')' in condition '${src}'`, "condition syntax");
      i++;
      return inner;
    }
    if (t.kind === "rp") fail(`unexpected ')' at position ${t.pos} in condition '${src}'`, "condition syntax");
    const w = t.text.toLowerCase();
    if ((w === "all" || w === "any" || /^\d+$/.test(w)) && toks[i + 1]?.text.toLowerCase() === "of") {
      const target = toks[i + 2];
      if (!target || target.kind !== "word") fail(`'${t.text} of' needs a pattern or 'them' in condition '${src}'`, "condition syntax");
      i += 3;
      const count = w === "all" ? "all" : w === "any" ? 1 : Number(w);
      if (count === 0) fail(`'0 of' is not meaningful`, "condition syntax");
      const them = target.text.toLowerCase() === "them";
      // By convention identifiers starting with '_' are excluded from 'them'.
      const names = them ? identifiers.filter((n) => !n.startsWith("_")) : identifiers.filter((n) => globMatcher(target.text).test(n));
      if (names.length === 0) fail(`'${target.text}' matches no search identifier`, "condition reference");
      return { op: "of", count, names, pattern: target.text };
    }
    if (["and", "or", "not", "of", "near"].includes(w)) fail(`unexpected '${t.text}' at position ${t.pos} in condition '${src}'`, w === "near" ? "condition near" : "condition syntax");
    if (!identifiers.includes(t.text)) fail(`condition references undefined search identifier '${t.text}'`, "condition reference");
    i++;
    return { op: "id", name: t.text };
  };

  const tree = parseOr();
  if (i < toks.length) fail(`unexpected '${toks[i].text}' at position ${toks[i].pos} in condition '${src}'`, "condition syntax");
  return tree;
}
