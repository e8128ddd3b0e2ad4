import { normalizeValue, resolveKind, type Ioc, type IocParseError, type Steps } from "@vigil/detection";

/** One item of a JSON IOC list: the IOC, or the error naming the item and field. */
export function readJsonItem(raw: unknown, i: number, defaultSource: string): Ioc | IocParseError {
  const at = `items[${i}]`;
  const fail = (field: string, msg: string): IocParseError => ({ indicatorId: at, field, message: `${at}.${field}: ${msg}` });
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { indicatorId: at, message: `${at}: must be an object` };
  const o = raw as Record<string, unknown>;
  const typeText = typeof o.type === "string" ? o.type : typeof o.kind === "string" ? o.kind : "";
  const kind = resolveKind(typeText);
  if (!kind) return fail("type", typeText ? `unsupported IOC type '${typeText}' (ip, cidr, domain, sha256)` : "is required");
  if (typeof o.value !== "string") return fail("value", "must be a string");
  const norm = normalizeValue(kind, o.value);
  if (!norm.ok) return fail("value", norm.error);
  const confidence = o.confidence ?? 50;
  if (typeof confidence !== "number" || !(confidence >= 0 && confidence <= 100)) return fail("confidence", "must be a number 0-100");
  if (o.source !== undefined && (typeof o.source !== "string" || o.source === "")) return fail("source", "must be a non-empty string");
  let expiresAtMs: number | undefined;
  if (o.expiresAt !== undefined) {
    expiresAtMs = typeof o.expiresAt === "number" ? o.expiresAt : typeof o.expiresAt === "string" ? Date.parse(o.expiresAt) : NaN;
    if (!Number.isFinite(expiresAtMs)) return fail("expiresAt", "must be an ISO 8601 time or epoch milliseconds");
  }
  if (o.tags !== undefined && !(Array.isArray(o.tags) && o.tags.every((t) => typeof t === "string"))) return fail("tags", "must be a list of strings");
  return {
    kind: norm.kind,
    value: norm.value,
    confidence,
    source: (o.source as string | undefined) ?? defaultSource,
    ...(typeof o.description === "string" ? { description: o.description } : {}),
    ...(expiresAtMs !== undefined ? { expiresAtMs } : {}),
    ...(o.tags ? { tags: o.tags as string[] } : {}),
  };
}

/**
 * POST /api/v1/iocs: a JSON list of {type|kind, value, confidence?, source?, description?, expiresAt?, tags?},
 * read item by item as steps (see runStepsSliced), each bad item named by its index.
 */
export function* jsonItemSteps(items: unknown[], defaultSource: string): Steps<{ iocs: Ioc[]; errors: IocParseError[] }> {
  const iocs: Ioc[] = [];
  const errors: IocParseError[] = [];
  for (let i = 0; i < items.length; i++) {
    yield;
    const r = readJsonItem(items[i], i, defaultSource);
    if ("kind" in r) iocs.push(r);
    else errors.push(r);
  }
  return { iocs, errors };
}
