import { columnOf } from "./columns";
import { inferValueKind, isIndicator, unsupportedReason } from "./infer";
import { normalizeValue } from "./normalize";
import { runSteps, type Steps } from "./time-slice";
import type { Ioc, IocParseError } from "./types";

/**
 * Plain indicator lists, one per line: blocklist.de, Emerging Threats compromised-ips.txt, CINS,
 * Feodo's ipblocklist.txt, Spamhaus DROP ("1.10.16.0/20 ; SBL256894"), firehol netsets, hash
 * lists, hosts files ("0.0.0.0 evil.example"), sha256sum output ("<hash>  file.exe").
 */

export interface ListParseOptions {
  defaultSource?: string;
  defaultConfidence?: number;
}

export interface ListLine {
  /** 1-based line number. */
  line: number;
  /** The indicator(s) on the line, as written (a hosts-file line may name several). */
  values: string[];
  /** A trailing comment or the words after the indicator ("SBL256894", a file name), if any. */
  note?: string;
  /** Why the line is not one indicator; values is then empty. */
  error?: string;
}

// Hosts-file blocklists point names at one of these; the names are the indicators.
const SINKS = new Set(["0.0.0.0", "127.0.0.1", "::", "::1", "0"]);
// Names every hosts file carries for the machine itself: not indicators, skipped without a word.
const HOSTS_BOILERPLATE = new Set([
  "localhost",
  "localhost.localdomain",
  "local",
  "broadcasthost",
  "0.0.0.0",
  "ip6-localhost",
  "ip6-loopback",
  "ip6-localnet",
  "ip6-mcastprefix",
  "ip6-allnodes",
  "ip6-allrouters",
  "ip6-allhosts",
]);

const unquote = (t: string): string => (t.length >= 2 && t[0] === t[t.length - 1] && (t[0] === '"' || t[0] === "'") ? t.slice(1, -1) : t);

/** Splits a line into its indicator(s) and note; undefined for blank and comment lines ('#', ';', '//'). */
export function readListLine(raw: string, line: number): ListLine | undefined {
  let body = raw.trim();
  if (body === "" || body.startsWith("#") || body.startsWith(";") || body.startsWith("//")) return undefined;
  let note: string | undefined;
  // A trailing comment: "; ..." anywhere, "# ..." after a blank (a '#' inside a URL is a fragment).
  const cut = /;|\s#/.exec(body);
  if (cut) {
    note =
      body
        .slice(cut.index)
        .replace(/^\s*[;#]+/, "")
        .trim() || undefined;
    body = body.slice(0, cut.index).trim();
  }
  const words = body
    .split(/\s+/)
    .map(unquote)
    .filter((w) => w !== "");
  if (words.length === 0) return undefined;
  const first = words[0] as string;
  const rest = words.slice(1);
  const withNote = (values: string[], extra?: string): ListLine => {
    const n = [extra, note].filter((x): x is string => !!x).join(" ; ");
    return { line, values, ...(n ? { note: n } : {}) };
  };
  if (rest.length === 0) return withNote([first]);
  if (SINKS.has(first)) return withNote(rest.filter((w) => !HOSTS_BOILERPLATE.has(w.toLowerCase())));
  // sha256sum / md5sum output: the hash, then the file name (which may look like a domain).
  if (/^[0-9a-f]{32}$|^[0-9a-f]{40}$|^[0-9a-f]{64}$|^[0-9a-f]{128}$/i.test(first)) return withNote([first], rest.join(" "));
  // An indicator followed by words that are not indicators (a count, a label) is that indicator;
  // several indicators on a line (a range "start end", a hosts entry) are not guessed at.
  if (isIndicator(first) && !rest.some(isIndicator)) return withNote([first], rest.join(" "));
  return { line, values: [], error: `${words.length} words ('${body.length > 60 ? body.slice(0, 57) + "..." : body}'); expected one indicator per line, optionally followed by a '#' or ';' comment` };
}

/** The lines of a text, one at a time (BOM dropped; LF, CRLF or CR ends a line), without splitting it whole. */
export function* textLines(text: string): Generator<string> {
  let i = text.startsWith("\uFEFF") ? 1 : 0;
  const n = text.length;
  while (i <= n) {
    let j = i;
    while (j < n && text.charCodeAt(j) !== 10 && text.charCodeAt(j) !== 13) j++;
    yield text.slice(i, j);
    if (j >= n) return;
    i = text.charCodeAt(j) === 13 && text.charCodeAt(j + 1) === 10 ? j + 2 : j + 1;
  }
}

/**
 * True when the text reads as a plain list: at least half of its first 20 content lines are one
 * well-formed indicator each (so a stray header or junk line does not change the verdict).
 */
export function looksLikeList(text: string): boolean {
  let seen = 0;
  let good = 0;
  let i = 0;
  for (const raw of textLines(text)) {
    if (seen >= 20) break;
    const l = readListLine(raw, ++i);
    if (!l || (l.values.length === 0 && !l.error)) continue; // blank, comment, hosts boilerplate
    seen++;
    if (l.values.length > 0 && l.values.every(isIndicator)) good++;
  }
  return good > 0 && good * 2 >= seen;
}

export interface ListParseResult {
  iocs: Ioc[];
  errors: IocParseError[];
  unsupported: Record<string, number>;
}

/** Parses a plain list. Each refused line is reported with its number and reason; the rest is imported. */
export function parseIocList(text: string, opts: ListParseOptions = {}): ListParseResult {
  return runSteps(parseIocListSteps(text, opts));
}

/** parseIocList as steps: yields after every line, so a driver can hand the thread back (see time-slice.ts). */
export function* parseIocListSteps(text: string, opts: ListParseOptions = {}): Steps<ListParseResult> {
  const iocs: Ioc[] = [];
  const errors: IocParseError[] = [];
  const unsupported: Record<string, number> = {};
  const source = opts.defaultSource ?? "list";
  const confidence = opts.defaultConfidence ?? 50;
  let first = true;
  let idx = 0;
  for (const raw of textLines(text)) {
    yield;
    const l = readListLine(raw, ++idx);
    if (!l) continue;
    const fail = (message: string): void => void errors.push({ line: l.line, field: "value", message: `line ${l.line}: ${message}` });
    // A one-word column name on the first content line ("ip", "domain") is a header, not data.
    const wasFirst = first;
    first = false;
    if (wasFirst && l.values.length === 1 && columnOf(l.values[0] as string) === "value") continue;
    if (l.error) {
      fail(l.error);
      continue;
    }
    for (const value of l.values) {
      const k = inferValueKind(value);
      if (!k) continue;
      if (!k.supported) {
        unsupported[k.kind] = (unsupported[k.kind] ?? 0) + 1;
        fail(`unsupported IOC type '${k.kind}' for '${value}' (${unsupportedReason(k.kind)})`);
        continue;
      }
      const norm = normalizeValue(k.kind, value);
      if (!norm.ok) {
        fail(norm.error);
        continue;
      }
      iocs.push({ kind: norm.kind, value: norm.value, confidence, source, ...(l.note ? { description: l.note } : {}) });
    }
  }
  return { iocs, errors, unsupported };
}
