/** The `re` modifier: Sigma's PCRE subset mapped onto JavaScript regular expressions. */
import { fail } from "./errors";

const FLAG_MODS: Record<string, string> = { i: "i", ignorecase: "i", m: "m", multiline: "m", s: "s", dotall: "s" };

/**
 * Flags come from the sub-modifiers (`|re|i|m|s`) or a leading inline group such as `(?i)`,
 * which JavaScript does not accept mid-pattern. Constructs JavaScript cannot express are refused
 * instead of silently matching differently.
 */
export function compileRegex(pattern: string, mods: string[]): RegExp {
  let flags = "";
  const afterRe = mods.slice(mods.indexOf("re") + 1);
  for (const m of afterRe) if (FLAG_MODS[m] && !flags.includes(FLAG_MODS[m])) flags += FLAG_MODS[m];
  let src = pattern;
  const inline = /^\(\?([imsx]+)\)/.exec(src);
  if (inline) {
    if (inline[1].includes("x")) fail(`regex flag 'x' (extended) is not supported: ${pattern}`, "regex flag x");
    for (const f of inline[1]) if (!flags.includes(f)) flags += f;
    src = src.slice(inline[0].length);
  }
  if (/\(\?[a-z-]+\)|\(\?[a-z-]+:/i.test(src)) fail(`inline regex flags inside the pattern are not supported: ${pattern}`, "regex inline flags");
  if (/\(\?>|[*+?}]\+/.test(src)) fail(`atomic groups and possessive quantifiers are not supported: ${pattern}`, "regex atomic/possessive");
  src = src.replace(/\(\?P</g, "(?<").replace(/\\A/g, "^").replace(/\\[zZ]/g, "$");
  try {
    return new RegExp(src, flags);
  } catch (e) {
    fail(`invalid regular expression ${JSON.stringify(pattern)}: ${(e as Error).message}`, "modifier 're'");
  }
}
