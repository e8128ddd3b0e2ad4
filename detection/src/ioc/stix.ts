import { parseJsonSteps } from "./json-sliced";
import { normalizeValue, parseConfidence, parseTime } from "./normalize";
import { runSteps, type Steps } from "./time-slice";
import { parseStixPattern, summarize, type PatternRefusal } from "./stix-pattern";
import type { Ioc, IocParseError, IocParseResult } from "./types";

export interface StixParseOptions {
  /** Source name when the indicator names no producer identity in the bundle. Default "stix". */
  defaultSource?: string;
  /** Confidence when an indicator has none (STIX leaves it unspecified). Default 50. */
  defaultConfidence?: number;
  /** "Now" for expiry (valid_until, STOP), epoch ms. Default Date.now(). */
  nowMs?: number;
  /** Only a bundle will do (not a TAXII envelope or a lone indicator): otherwise notBundle is set and nothing is read. */
  requireBundle?: boolean;
}

export interface StixSkipped {
  /** `revoked: true`: the producer withdrew the indicator. */
  revoked: number;
  /** `valid_until` (or every STOP in the pattern) already past. */
  expired: number;
  /** An older version (same id, earlier `modified`) of an indicator the bundle also holds newer. */
  superseded: number;
}

export interface StixParseResult extends IocParseResult {
  /** Indicator objects read (every version). */
  indicators: number;
  /**
   * Indicators refused because Vigil cannot match their kind, counted per kind: url, md5, sha1,
   * sha512, email (as the CSV import names them), other hash names (ssdeep, sha384...), the STIX
   * object type (process, x509-certificate, directory...), or the pattern_type (yara, sigma, snort).
   * Indicators that loaded with such alternatives left out (see `partial`) are counted too. Each is
   * named in `errors` or `partial`.
   */
  unsupported: Record<string, number>;
  /** Left out on purpose, not errors; counted only, so a stale feed does not bury the real errors. */
  skipped: StixSkipped;
  /** Indicators that loaded, but with alternatives of their pattern (OR / IN) left out: id and why. */
  partial: IocParseError[];
  /**
   * STIX Cyber-observable objects (ipv4-addr, domain-name, file, url, ...) and observed-data in the
   * bundle. Counted, never imported: an observable records that something was seen, not that it is
   * malicious. MISP exports every attribute this way, including those its analysts marked as not for
   * detection (to_ids false: victims' addresses, resolvers, sinkholes), and OpenCTI exports its
   * observables alongside the indicators built from them; what the producer wants detected comes as
   * an indicator.
   */
  observables: number;
  /** Set when requireBundle was asked and the input is not a bundle. */
  notBundle?: boolean;
}

type JsonObject = Record<string, unknown>;

/** STIX 2.1 Cyber-observable object types (plus observed-data, which wraps them in 2.0). */
const OBSERVABLE_TYPES = new Set([
  "artifact",
  "autonomous-system",
  "directory",
  "domain-name",
  "email-addr",
  "email-message",
  "file",
  "ipv4-addr",
  "ipv6-addr",
  "mac-addr",
  "mutex",
  "network-traffic",
  "process",
  "software",
  "url",
  "user-account",
  "windows-registry-key",
  "x509-certificate",
  "observed-data",
]);

/** Renders a JSON value for a message; String() would throw on {"toString": 1}. */
function show(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
}

/** Patterns can be long (IN lists of thousands): messages quote the start. */
function clip(s: string, max = 300): string {
  return s.length > max ? `${s.slice(0, max)}... (${s.length} characters)` : s;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Producer names from identity objects, so `created_by_ref` becomes a readable source. */
function* identityNames(objects: unknown[]): Steps<Map<string, string>> {
  const names = new Map<string, string>();
  for (const o of objects) {
    yield;
    if (isObject(o) && o.type === "identity" && typeof o.id === "string" && typeof o.name === "string" && o.name.trim() !== "") names.set(o.id, o.name.trim());
  }
  return names;
}

const modifiedMs = (o: JsonObject): number => (typeof o.modified === "string" ? (parseTime(o.modified) ?? -Infinity) : -Infinity);

/**
 * For each indicator id, the index of its newest version (STIX versions share the id and differ in
 * `modified`; a TAXII collection or a bundle assembled from several pulls can carry several).
 */
function* newestVersions(objects: unknown[]): Steps<Map<string, number>> {
  const newest = new Map<string, number>();
  for (let idx = 0; idx < objects.length; idx++) {
    yield;
    const o = objects[idx];
    if (!isObject(o) || o.type !== "indicator" || typeof o.id !== "string") continue;
    const prev = newest.get(o.id);
    if (prev === undefined || modifiedMs(o) >= modifiedMs(objects[prev] as JsonObject)) newest.set(o.id, idx);
  }
  return newest;
}

/**
 * Parses a STIX 2.1 or 2.0 bundle (JSON text or an already parsed value), a TAXII 2.1 envelope
 * ({"objects": [...]}) or a single indicator. Indicators whose patterns name IP addresses, CIDRs,
 * domain names or SHA-256 hashes become IOCs (see stix-pattern.ts for which patterns and why); every
 * refused indicator is reported with its id and reason. Revoked and expired indicators and older
 * versions are skipped and counted; observables are counted; other objects (identities,
 * relationships, malware, attack patterns, reports...) are ignored without a word.
 */
export function parseStixBundle(input: unknown /* JSON text or a parsed bundle */, opts: StixParseOptions = {}): StixParseResult {
  return runSteps(parseStixBundleSteps(input, opts));
}

/**
 * parseStixBundle as steps: JSON text is parsed object by object and every object is a step, so a
 * driver can hand the thread back (see time-slice.ts); the work is linear in the bundle's size.
 */
export function* parseStixBundleSteps(input: unknown, opts: StixParseOptions = {}): Steps<StixParseResult> {
  const result: StixParseResult = {
    iocs: [],
    errors: [],
    indicators: 0,
    unsupported: {},
    skipped: { revoked: 0, expired: 0, superseded: 0 },
    partial: [],
    observables: 0,
  };
  const { errors } = result;
  let doc: unknown = input;
  if (typeof input === "string") {
    const parsed = yield* parseJsonSteps(input);
    if (!parsed.ok) {
      errors.push({ message: `bundle is not valid JSON: ${parsed.error}` });
      if (opts.requireBundle) result.notBundle = true;
      return result;
    }
    doc = parsed.value;
  }
  let objects: unknown[];
  if (opts.requireBundle && !(isObject(doc) && doc.type === "bundle")) {
    result.notBundle = true;
    errors.push({ message: 'expected a STIX bundle ({"type": "bundle", "objects": [...]})' });
    return result;
  }
  if (isObject(doc) && doc.type === "bundle") {
    if (!Array.isArray(doc.objects)) {
      errors.push({ field: "objects", message: "bundle has no 'objects' array" });
      return result;
    }
    objects = doc.objects;
  } else if (isObject(doc) && doc.type === undefined && Array.isArray(doc.objects)) {
    objects = doc.objects; // TAXII 2.1 envelope (GET .../objects/), saved as is
  } else if (isObject(doc) && doc.type === "indicator") {
    objects = [doc];
  } else {
    errors.push({ message: 'expected a STIX bundle ({"type": "bundle", "objects": [...]}) or a single indicator' });
    return result;
  }

  const names = yield* identityNames(objects);
  const newest = yield* newestVersions(objects);
  const now = opts.nowMs ?? Date.now();
  for (let idx = 0; idx < objects.length; idx++) {
    yield;
    const obj = objects[idx];
    if (!isObject(obj)) {
      errors.push({ indicatorId: `objects[${idx}]`, message: `objects[${idx}]: not a JSON object` });
      continue;
    }
    if (obj.type !== "indicator") {
      if (typeof obj.type === "string" && OBSERVABLE_TYPES.has(obj.type)) result.observables++;
      continue;
    }
    result.indicators++;
    const id = typeof obj.id === "string" ? obj.id : `objects[${idx}]`;
    if (typeof obj.id === "string" && newest.get(obj.id) !== idx) {
      result.skipped.superseded++;
      continue;
    }
    yield* indicatorToIocs(obj, id, names, now, opts, result);
  }
  return result;
}

function countKinds(result: StixParseResult, kinds: Iterable<string | undefined>): void {
  for (const k of new Set(kinds)) if (k !== undefined) result.unsupported[k] = (result.unsupported[k] ?? 0) + 1;
}

/** One indicator; a step per value, since one pattern may list up to 100k of them. */
function* indicatorToIocs(obj: JsonObject, id: string, names: Map<string, string>, now: number, opts: StixParseOptions, result: StixParseResult): Steps<void> {
  const fail = (error: string, field?: string): void => {
    result.errors.push({ indicatorId: id, ...(field ? { field } : {}), message: `indicator ${id}: ${error}` });
  };
  if (obj.revoked === true) {
    result.skipped.revoked++;
    return;
  }
  let validUntil: number | undefined;
  if (obj.valid_until !== undefined) {
    validUntil = typeof obj.valid_until === "string" ? parseTime(obj.valid_until) : undefined;
    if (validUntil === undefined) return fail(`valid_until '${show(obj.valid_until)}' is not a timestamp`, "valid_until");
    if (validUntil <= now) {
      result.skipped.expired++;
      return;
    }
  }
  // STIX 2.0 has no pattern_type: its patterns are all STIX patterns.
  if (obj.pattern_type !== undefined && (typeof obj.pattern_type !== "string" || obj.pattern_type.toLowerCase() !== "stix")) {
    if (typeof obj.pattern_type === "string" && obj.pattern_type !== "") countKinds(result, [obj.pattern_type.toLowerCase()]);
    return fail(`pattern_type '${show(obj.pattern_type)}' is not supported (only stix)`, "pattern_type");
  }
  if (typeof obj.pattern !== "string") return fail("has no 'pattern' string", "pattern");
  const parsed = parseStixPattern(obj.pattern);
  const patternRefused: PatternRefusal[] = parsed.ok ? (parsed.refused ?? []) : parsed.refused;

  let confidence = opts.defaultConfidence ?? 50;
  if (obj.confidence !== undefined) {
    const c = parseConfidence(obj.confidence);
    if (!c.ok) return fail(c.error, "confidence");
    confidence = c.confidence;
  }
  // STIX 2.0 puts the indicator type in labels; 2.1 has indicator_types and free labels. Both are tags.
  const tags = [
    ...new Set(
      [obj.indicator_types, obj.labels]
        .flatMap((l): unknown[] => (Array.isArray(l) ? l : []))
        .filter((l): l is string => typeof l === "string" && l.trim() !== "")
        .map((l) => l.trim()),
    ),
  ];
  const nonEmpty = (v: unknown): string | undefined => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
  // Some producers (OpenCTI, Unit 42) name an indicator after its pattern or value: no description then.
  const name = nonEmpty(obj.name);
  const description = nonEmpty(obj.description) ?? (name !== undefined && name !== obj.pattern.trim() ? name : undefined);
  const source = (typeof obj.created_by_ref === "string" ? names.get(obj.created_by_ref) : undefined) ?? opts.defaultSource ?? "stix";

  const iocs: Ioc[] = [];
  const valueErrors: string[] = [];
  let expired = 0;
  const seen = new Set<string>();
  for (const pv of parsed.ok ? parsed.values : []) {
    yield;
    let norm = normalizeValue(pv.kind, pv.value);
    if (!norm.ok) {
      valueErrors.push(norm.error);
      continue;
    }
    if (pv.family !== undefined && (norm.value.includes(":") ? 6 : 4) !== pv.family) {
      valueErrors.push(`'${pv.value}' is not an IPv${pv.family} address`);
      continue;
    }
    // Producers write single addresses as /32 (/128) ranges: the address is the indicator.
    if (norm.kind === "cidr" && /\/(32|128)$/.test(norm.value) && (norm.value.endsWith("/128") || !norm.value.includes(":"))) {
      norm = normalizeValue("ip", norm.value.slice(0, norm.value.lastIndexOf("/")));
      if (!norm.ok) continue;
    }
    const expiresAtMs = pv.stopMs !== undefined ? Math.min(pv.stopMs, validUntil ?? Infinity) : validUntil;
    if (expiresAtMs !== undefined && expiresAtMs <= now) {
      expired++;
      continue;
    }
    const key = `${norm.kind}|${norm.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ioc: Ioc = { kind: norm.kind, value: norm.value, confidence, source, sourceId: id };
    if (description !== undefined) ioc.description = description;
    if (expiresAtMs !== undefined) ioc.expiresAtMs = expiresAtMs;
    if (tags.length > 0) ioc.tags = tags;
    iocs.push(ioc);
  }

  countKinds(
    result,
    patternRefused.map((r) => r.kind),
  );
  const pattern = clip(obj.pattern);
  if (iocs.length > 0) {
    for (const ioc of iocs) result.iocs.push(ioc);
    const left = [...patternRefused.map((r) => r.reason), ...valueErrors];
    if (left.length > 0) {
      result.partial.push({
        indicatorId: id,
        field: "pattern",
        message: `indicator ${id}: loaded ${iocs.length} value(s); left out: ${summarize(left.map((reason) => ({ reason })))} (pattern: ${pattern})`,
      });
    }
    return;
  }
  if (expired > 0 && patternRefused.length === 0 && valueErrors.length === 0) {
    result.skipped.expired++;
    return;
  }
  if (patternRefused.length > 0) return fail(`pattern refused: ${summarize([...patternRefused, ...valueErrors.map((reason) => ({ reason }))])} (pattern: ${pattern})`, "pattern");
  fail(summarize(valueErrors.map((reason) => ({ reason }))), "pattern");
}
