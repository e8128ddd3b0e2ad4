import { readCsvRecords } from "./csv-records";
import { normalizeValue, parseConfidence, parseTime, refang, resolveKind } from "./normalize";
import { parseIp } from "./ip";
import type { Ioc, IocKind, IocParseError, IocParseResult } from "./types";

export interface CsvParseOptions {
  /** Used when the file has no source column or the cell is empty (e.g. the file or feed name). */
  defaultSource?: string;
  /** Used when the file has no confidence column or the cell is empty. Default 50 ("medium"). */
  defaultConfidence?: number;
}

type Column = "type" | "value" | "confidence" | "source" | "description" | "expires" | "tags";

/** Header names accepted for each column, case-insensitive, so common feed exports load unchanged. */
const HEADER_ALIASES: Record<string, Column> = {
  type: "type",
  kind: "type",
  ioc_type: "type",
  indicator_type: "type",
  value: "value",
  indicator: "value",
  ioc: "value",
  // Single-kind feeds name the column after the kind; the kind is then inferred from each value.
  ip: "value",
  ip_address: "value",
  ipaddress: "value",
  dst_ip: "value",
  domain: "value",
  hostname: "value",
  sha256: "value",
  sha256_hash: "value",
  hash: "value",
  confidence: "confidence",
  score: "confidence",
  source: "source",
  feed: "source",
  description: "description",
  comment: "description",
  expires: "expires",
  expires_at: "expires",
  expiry: "expires",
  valid_until: "expires",
  tags: "tags",
  labels: "tags",
};

/** Without a type column: a CIDR, an IP, a sha256, else a domain name. */
function inferKind(value: string): IocKind | undefined {
  const v = refang(value);
  if (v === "") return undefined;
  if (v.includes("/")) return "cidr";
  if (parseIp(v)) return "ip";
  if (/^[0-9a-fA-F]{64}$/.test(v)) return "sha256";
  return "domain";
}

/**
 * Parses an IOC CSV. The first record is the header; `type` and `value` columns are required, the
 * others (confidence, source, description, expires, tags) optional and in any order. Each bad line
 * is reported with its line number and the rest of the file is still imported.
 */
export function parseIocCsv(text: string, opts: CsvParseOptions = {}): IocParseResult {
  const { records, errors: recordErrors } = readCsvRecords(text);
  const errors: IocParseError[] = recordErrors.map((e) => ({ line: e.line, message: e.message }));
  const iocs: Ioc[] = [];
  const header = records[0];
  if (!header) {
    errors.push({ line: 1, message: "line 1: no header row (expected columns type,value[,confidence,source,description])" });
    return { iocs, errors };
  }

  const columns = new Map<Column, number>();
  header.fields.forEach((name, idx) => {
    const col = HEADER_ALIASES[name.trim().toLowerCase()];
    if (col === undefined) return; // extra columns are allowed and ignored
    if (columns.has(col)) {
      errors.push({ line: header.line, field: name, message: `line ${header.line}: column '${col}' appears twice in the header; the first is used` });
      return;
    }
    columns.set(col, idx);
  });
  const missing = (["value"] as const).filter((c) => !columns.has(c));
  if (missing.length > 0) {
    errors.push({
      line: header.line,
      message: `line ${header.line}: header lacks required column(s) ${missing.join(", ")} (found: ${header.fields.join(", ")})`,
    });
    return { iocs, errors };
  }

  const defaultSource = opts.defaultSource ?? "csv";
  const defaultConfidence = opts.defaultConfidence ?? 50;
  for (const rec of records.slice(1)) {
    const line = rec.line;
    const fail = (field: string | undefined, message: string): void => {
      errors.push({ line, ...(field ? { field } : {}), message: `line ${line}: ${message}` });
    };
    if (rec.fields.length > header.fields.length) {
      fail(undefined, `${rec.fields.length} fields but the header has ${header.fields.length} (unquoted comma?)`);
      continue;
    }
    const cell = (c: Column): string => {
      const idx = columns.get(c);
      return idx === undefined ? "" : (rec.fields[idx] ?? "").trim();
    };

    const typeText = cell("type");
    const kind = columns.has("type") ? resolveKind(typeText) : inferKind(cell("value"));
    if (kind === undefined) {
      fail("type", typeText === "" ? "type is empty" : `unsupported IOC type '${typeText}' (supported: ip, cidr, domain, sha256)`);
      continue;
    }
    const norm = normalizeValue(kind, cell("value"));
    if (!norm.ok) {
      fail("value", norm.error);
      continue;
    }
    let confidence = defaultConfidence;
    const confText = cell("confidence");
    if (confText !== "") {
      const conf = parseConfidence(confText);
      if (!conf.ok) {
        fail("confidence", conf.error);
        continue;
      }
      confidence = conf.confidence;
    }
    const ioc: Ioc = { kind: norm.kind, value: norm.value, confidence, source: cell("source") || defaultSource };
    const description = cell("description");
    if (description !== "") ioc.description = description;
    const expiresText = cell("expires");
    if (expiresText !== "") {
      const ms = parseTime(expiresText);
      if (ms === undefined) {
        fail("expires", `expiry '${expiresText}' is not an ISO 8601 time or epoch milliseconds`);
        continue;
      }
      ioc.expiresAtMs = ms;
    }
    const tags = cell("tags")
      .split(/[;|]/)
      .map((t) => t.trim())
      .filter((t) => t !== "");
    if (tags.length > 0) ioc.tags = tags;
    iocs.push(ioc);
  }
  return { iocs, errors };
}
