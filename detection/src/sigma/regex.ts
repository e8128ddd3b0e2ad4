/**
 * The `re` modifier, run by an RE2 engine (re2js, pure JavaScript: the agent takes no native
 * addon). V8's RegExp backtracks: `^(a+)+$` doubles in cost per character of a value any user on
 * a host controls. RE2 matches in time linear in the value, so every construct that needs
 * backtracking (backreferences, lookarounds, atomic groups, possessive quantifiers) is refused
 * when the rule is compiled, naming the construct, instead of being run.
 */
import { RE2JS } from "re2js";
import { fail } from "./errors";

/** What a compiled `re` value offers: an unanchored search, like RegExp.prototype.test. */
export interface LinearRegex {
  test(value: string): boolean;
}

/**
 * Matching costs O(value × pattern) at worst (RE2's NFA), so the pattern is bounded too.
 * 8 KiB is far beyond any published Sigma rule.
 */
export const MAX_REGEX_LENGTH = 8192;

const FLAG_MODS: Record<string, number> = {
  i: RE2JS.CASE_INSENSITIVE,
  ignorecase: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  multiline: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
  dotall: RE2JS.DOTALL,
};

/** Constructs RE2 cannot run, with the reason given to the rule author. */
const REFUSED: { re: RegExp; feature: string; why: string }[] = [
  { re: /^\\[1-9]|^\\k</, feature: "regex backreference", why: "backreferences need backtracking" },
  { re: /^\(\?<?[=!]/, feature: "regex lookaround", why: "lookahead/lookbehind assertions need backtracking" },
  { re: /^\(\?>/, feature: "regex atomic/possessive", why: "atomic groups are not supported" },
  { re: /^[*+?}]\+/, feature: "regex atomic/possessive", why: "possessive quantifiers are not supported" },
];

/**
 * Flags come from the sub-modifiers (`|re|i|m|s`) or inline groups such as `(?i)` (RE2 accepts
 * them anywhere). A few PCRE/JavaScript spellings are rewritten to RE2's (`\Z`, `\uXXXX`); the
 * rest of the pattern is handed to RE2 as written, and whatever it refuses is reported with its
 * reason.
 */
export function compileRegex(pattern: string, mods: string[]): LinearRegex {
  if (pattern.length > MAX_REGEX_LENGTH) fail(`regular expression is longer than ${MAX_REGEX_LENGTH} characters`, "regex length");
  let flags = 0;
  for (const m of mods.slice(mods.indexOf("re") + 1)) flags |= FLAG_MODS[m] ?? 0;
  const src = toRe2Syntax(pattern);
  try {
    return RE2JS.compile(src, flags);
  } catch (e) {
    const msg = (e as Error).message.replace(/^error parsing regexp: /, "");
    fail(`regular expression ${JSON.stringify(pattern)} is not supported by the RE2 dialect: ${msg}`, "modifier 're'");
  }
}

/** Refuses backtracking-only constructs by name and rewrites the few spellings RE2 lacks. */
function toRe2Syntax(pattern: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const rest = pattern.slice(i, i + 4);
    if (!inClass) {
      for (const r of REFUSED) {
        if (r.re.test(rest)) fail(`${r.why} (RE2 dialect): ${pattern}`, r.feature);
      }
    }
    const c = pattern[i];
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (next === "Z" && !inClass) out += "(?:\\n?\\z)";
      else if (next === "u" && /^[0-9a-fA-F]{4}$/.test(pattern.slice(i + 2, i + 6))) {
        out += `\\x{${pattern.slice(i + 2, i + 6)}}`;
        i += 4;
      } else out += c + next;
      i++;
      continue;
    }
    if (c === "[" && !inClass) {
      inClass = true;
      // A `]` right after `[` or `[^` is a literal member, not the end of the class.
      let j = i + 1;
      if (pattern[j] === "^") j++;
      if (pattern[j] === "]") j++;
      out += pattern.slice(i, j);
      i = j - 1;
      continue;
    }
    if (c === "]" && inClass) inClass = false;
    out += c;
  }
  return out;
}
