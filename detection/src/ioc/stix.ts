import { normalizeValue, parseConfidence, parseTime } from "./normalize";
import { parseStixPattern } from "./stix-pattern";
import type { Ioc, IocParseError, IocParseResult } from "./types";

export interface StixParseOptions {
  /** Source name when the indicator names no producer identity in the bundle. Default "stix". */
  defaultSource?: string;
  /** Confidence when an indicator has none (STIX leaves it unspecified). Default 50. */
  defaultConfidence?: number;
}

type JsonObject = Record<string, unknown>;

/** Renders a JSON value for a message; String() would throw on {"toString": 1}. */
function show(v: unknown): string {
  if (typeof v === "string") return v;
  try {
    return JSON.stringify(v) ?? typeof v;
  } catch {
    return typeof v;
  }
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Producer names from identity objects, so `created_by_ref` becomes a readable source. */
function identityNames(objects: unknown[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const o of objects) {
    if (isObject(o) && o.type === "identity" && typeof o.id === "string" && typeof o.name === "string") names.set(o.id, o.name);
  }
  return names;
}

/**
 * Parses a STIX 2.1 bundle (JSON text or an already parsed value). Indicators with simple patterns
 * become IOCs; every refused indicator is reported with its id and reason. Other object types
 * (identities, relationships, malware, ...) are ignored; revoked indicators are skipped silently, as
 * the producer asked.
 */
export function parseStixBundle(input: string | unknown, opts: StixParseOptions = {}): IocParseResult {
  const iocs: Ioc[] = [];
  const errors: IocParseError[] = [];
  let doc: unknown = input;
  if (typeof input === "string") {
    try {
      doc = JSON.parse(input);
    } catch (e) {
      errors.push({ message: `bundle is not valid JSON: ${(e as Error).message}` });
      return { iocs, errors };
    }
  }
  let objects: unknown[];
  if (isObject(doc) && doc.type === "bundle") {
    if (!Array.isArray(doc.objects)) {
      errors.push({ field: "objects", message: "bundle has no 'objects' array" });
      return { iocs, errors };
    }
    objects = doc.objects;
  } else if (isObject(doc) && doc.type === "indicator") {
    objects = [doc];
  } else {
    errors.push({ message: "expected a STIX bundle ({\"type\": \"bundle\", \"objects\": [...]}) or a single indicator" });
    return { iocs, errors };
  }

  const names = identityNames(objects);
  objects.forEach((obj, idx) => {
    if (!isObject(obj)) {
      errors.push({ indicatorId: `objects[${idx}]`, message: `objects[${idx}]: not a JSON object` });
      return;
    }
    if (obj.type !== "indicator") return;
    const id = typeof obj.id === "string" ? obj.id : `objects[${idx}]`;
    const result = indicatorToIocs(obj, id, names, opts);
    if ("error" in result) errors.push({ indicatorId: id, ...(result.field ? { field: result.field } : {}), message: `indicator ${id}: ${result.error}` });
    else iocs.push(...result.iocs);
  });
  return { iocs, errors };
}

type IndicatorResult = { iocs: Ioc[] } | { error: string; field?: string };

function indicatorToIocs(obj: JsonObject, id: string, names: Map<string, string>, opts: StixParseOptions): IndicatorResult {
  if (obj.revoked === true) return { iocs: [] };
  if (obj.pattern_type !== undefined && obj.pattern_type !== "stix") {
    return { field: "pattern_type", error: `pattern_type '${show(obj.pattern_type)}' is not supported (only stix)` };
  }
  if (typeof obj.pattern !== "string") return { field: "pattern", error: "has no 'pattern' string" };
  const parsed = parseStixPattern(obj.pattern);
  if (!parsed.ok) return { field: "pattern", error: `pattern refused: ${parsed.reason} (pattern: ${obj.pattern})` };

  let confidence = opts.defaultConfidence ?? 50;
  if (obj.confidence !== undefined) {
    const c = parseConfidence(obj.confidence);
    if (!c.ok) return { field: "confidence", error: c.error };
    confidence = c.confidence;
  }
  let expiresAtMs: number | undefined;
  if (obj.valid_until !== undefined) {
    expiresAtMs = typeof obj.valid_until === "string" ? parseTime(obj.valid_until) : undefined;
    if (expiresAtMs === undefined) return { field: "valid_until", error: `valid_until '${show(obj.valid_until)}' is not a timestamp` };
  }
  const labels = Array.isArray(obj.labels) ? obj.labels.filter((l): l is string => typeof l === "string") : [];
  const description = typeof obj.description === "string" ? obj.description : typeof obj.name === "string" ? obj.name : undefined;
  const source =
    (typeof obj.created_by_ref === "string" ? names.get(obj.created_by_ref) : undefined) ?? opts.defaultSource ?? "stix";

  const iocs: Ioc[] = [];
  for (const pv of parsed.values) {
    const norm = normalizeValue(pv.kind, pv.value);
    if (!norm.ok) return { field: "pattern", error: norm.error };
    if (pv.family !== undefined && (norm.value.includes(":") ? 6 : 4) !== pv.family) {
      return { field: "pattern", error: `'${pv.value}' is not an IPv${pv.family} address` };
    }
    const ioc: Ioc = { kind: norm.kind, value: norm.value, confidence, source, sourceId: id };
    if (description !== undefined) ioc.description = description;
    if (expiresAtMs !== undefined) ioc.expiresAtMs = expiresAtMs;
    if (labels.length > 0) ioc.tags = labels;
    iocs.push(ioc);
  }
  return { iocs };
}
