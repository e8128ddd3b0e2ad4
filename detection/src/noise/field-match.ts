import { Glob, parseWildcard } from "../sigma/glob";
import { cidrContains, parseCidr, parseIp, unmapV4, type Cidr } from "../net/ip";

/**
 * Values as they appear in an alert's context. Arrays (e.g. several IPs) match when any element does.
 */
export type FieldValue = string | number | boolean | null | undefined;

/**
 * A field condition in a suppression: a string is an exact value with Sigma-style wildcards
 * (`*` any run, `?` one character, `\*` `\?` `\\` literal), compared case-insensitively;
 * `{ cidr }` matches IP values inside the network. A list matches when any entry does.
 */
export type FieldPattern = string | { cidr: string };

export type CompiledPattern = (value: FieldValue) => boolean;

/** Escapes a literal value so it can be used as a wildcard pattern that matches only itself. */
export function escapeWildcards(value: string): string {
  return value.replace(/[\\*?]/g, (c) => `\\${c}`);
}

/**
 * A case-insensitive wildcard test, linear in the value (see sigma/glob.ts): suppression patterns
 * come from the API and the values they are checked against from hosts.
 */
export function wildcardMatcher(pattern: string): (value: string) => boolean {
  const glob = new Glob(parseWildcard(pattern), true);
  return (value) => glob.test(value.toLowerCase());
}

function cidrMatcher(cidr: Cidr): CompiledPattern {
  return (value) => {
    if (typeof value !== "string") return false;
    const ip = parseIp(value, { allowZone: true });
    if (!ip) return false;
    const v4 = unmapV4(ip);
    return cidrContains(cidr, ip) || (v4 !== undefined && cidrContains(cidr, v4));
  };
}

/** Longest wildcard pattern accepted: matching costs O(value × ⌈pattern / 32⌉) at worst. */
export const MAX_PATTERN_LENGTH = 1024;

export type PatternCompile = { ok: true; match: CompiledPattern } | { ok: false; error: string };

export function compilePattern(p: unknown): PatternCompile {
  if (typeof p === "string") {
    if (p.length > MAX_PATTERN_LENGTH) return { ok: false, error: `pattern is longer than ${MAX_PATTERN_LENGTH} characters` };
    const test = wildcardMatcher(p);
    return { ok: true, match: (v) => v !== null && v !== undefined && test(String(v)) };
  }
  if (typeof p === "object" && p !== null && !Array.isArray(p)) {
    const o = p as Record<string, unknown>;
    if (typeof o.cidr !== "string" || Object.keys(o).length !== 1) return { ok: false, error: 'must be a string or { cidr: "net/prefix" }' };
    const c = parseCidr(o.cidr);
    if (!c.ok) return { ok: false, error: `cidr ${c.error}` };
    return { ok: true, match: cidrMatcher(c.cidr) };
  }
  return { ok: false, error: 'must be a string or { cidr: "net/prefix" }' };
}

/** Compiles a pattern or list of patterns; `where` names the location for the error message. */
export function compilePatterns(p: unknown, where: string): { ok: true; match: CompiledPattern } | { ok: false; error: string } {
  const list = Array.isArray(p) ? p : [p];
  if (list.length === 0) return { ok: false, error: `${where}: empty list matches nothing` };
  const compiled: CompiledPattern[] = [];
  for (const [i, item] of list.entries()) {
    const c = compilePattern(item);
    if (!c.ok) return { ok: false, error: `${where}${Array.isArray(p) ? `[${i}]` : ""}: ${c.error}` };
    compiled.push(c.match);
  }
  return { ok: true, match: (v) => compiled.some((m) => m(v)) };
}
