import { CsvRecordReader, readCsvRecords, type CsvRecord } from "./csv-records";
import { columnOf, isDescriptionFallback, isPlaceholder, isTagColumn, VALUE_COLUMN_NAMES, type Column } from "./columns";
import { inferValueKind, isIndicator, unsupportedKindOfType, unsupportedReason } from "./infer";
import { looksLikeList, parseIocListSteps } from "./list";
import { normalizeValue, parseConfidence, parseTime, resolveKind } from "./normalize";
import { runSteps, type Steps } from "./time-slice";
import type { Ioc, IocKind, IocParseError, IocParseResult } from "./types";

/**
 * "csv": a header row is required (the first record, or the last '#' comment line before the data).
 * "list": one indicator per line. "auto" (default): CSV when such a header is found, else a list
 * when the lines look like one.
 */
export type IocTextFormat = "auto" | "csv" | "list";

export interface CsvParseOptions {
  /** Used when the file has no source column or the cell is empty (e.g. the file or feed name). */
  defaultSource?: string;
  /** Used when the file has no confidence column or the cell is empty. Default 50 ("medium"). */
  defaultConfidence?: number;
  format?: IocTextFormat;
}

export interface CsvParseResult extends IocParseResult {
  /** How the text was read. */
  format: "csv" | "list";
  /**
   * Lines refused because Vigil cannot match their kind, counted per kind: url, md5, sha1, sha512,
   * email, or the feed's own type name for other kinds. Each is also in errors, with its line.
   */
  unsupported: Record<string, number>;
}

interface Header {
  line: number;
  fields: string[];
}

interface Layout {
  columns: Map<Column, number>;
  tagColumns: number[];
  descriptionFallback: number[];
}

function layoutOf(header: Header, errors: IocParseError[]): Layout {
  const columns = new Map<Column, number>();
  const tagColumns: number[] = [];
  const descriptionFallback: number[] = [];
  header.fields.forEach((name, idx) => {
    if (isTagColumn(name)) return void tagColumns.push(idx);
    if (isDescriptionFallback(name)) return void descriptionFallback.push(idx);
    const col = columnOf(name);
    if (col === undefined) return; // extra columns are allowed and ignored
    if (columns.has(col)) {
      errors.push({ line: header.line, field: name, message: `line ${header.line}: column '${col}' appears twice in the header; the first is used` });
      return;
    }
    columns.set(col, idx);
  });
  return { columns, tagColumns, descriptionFallback };
}

const hasValueColumn = (fields: string[]): boolean => fields.some((f) => columnOf(f) === "value");

/** A header names a value column and holds no indicator (a ThreatFox row's "domain" type cell is not a header). */
const isCleanHeader = (fields: string[]): boolean => hasValueColumn(fields) && !fields.some((f) => isIndicator(f.trim()));

/**
 * The header: the first record when it reads as one; else the last '#' comment line before the
 * first record when it has at least two fields and a value column (abuse.ch exports put
 * `# first_seen_utc,dst_ip,...` or `# "first_seen_utc","ioc_id","ioc_value",...` there); else the
 * first record if it names a value column at all (a header that happens to hold a dotted name).
 */
function findHeader(first: CsvRecord | undefined, comments: { line: number; text: string }[]): { header: Header; firstIsData: boolean } | undefined {
  if (first && isCleanHeader(first.fields)) return { header: first, firstIsData: false };
  const before = comments.filter((c) => c.text !== "" && (first === undefined || c.line < first.line)).at(-1);
  if (before) {
    const fields = readCsvRecords(before.text).records[0]?.fields;
    if (fields && fields.length >= 2 && hasValueColumn(fields)) return { header: { line: before.line, fields }, firstIsData: true };
  }
  if (first && hasValueColumn(first.fields)) return { header: first, firstIsData: false };
  return undefined;
}

/**
 * Parses an IOC CSV, or a plain list (see format). The CSV needs a value column; type, confidence,
 * source, description, expires and tags columns are optional and in any order, and real feeds'
 * names for them are accepted (see columns.ts). Without a type column the kind is inferred per
 * value. Each bad line is reported with its line number and the rest of the file is still imported.
 */
export function parseIocCsv(text: string, opts: CsvParseOptions = {}): CsvParseResult {
  return runSteps(parseIocCsvSteps(text, opts));
}

/** parseIocCsv as steps: yields after every record, so a driver can hand the thread back (see time-slice.ts). */
export function* parseIocCsvSteps(text: string, opts: CsvParseOptions = {}): Steps<CsvParseResult> {
  const format = opts.format ?? "auto";
  if (format === "list") return { format: "list", ...(yield* parseIocListSteps(text, opts)) };
  const reader = new CsvRecordReader(text);
  // Records are read one by one: up to the first, the comments before it may hold the header.
  const errors: IocParseError[] = [];
  const comments: { line: number; text: string }[] = [];
  let first: CsvRecord | undefined;
  for (let item = reader.next(); item; item = reader.next()) {
    yield;
    if (item.kind === "record") {
      first = { line: item.line, fields: item.fields };
      break;
    }
    if (item.kind === "error") errors.push({ line: item.line, message: item.message });
    else comments.push({ line: item.line, text: item.text });
  }
  const found = findHeader(first, comments);
  if (!found) {
    if (format === "auto" && looksLikeList(text)) return { format: "list", ...(yield* parseIocListSteps(text, opts)) };
    for (let item = reader.next(); item; item = reader.next()) {
      yield;
      if (item.kind === "error") errors.push({ line: item.line, message: item.message });
    }
    if (!first) {
      errors.push({ line: 1, message: "line 1: no header row (expected columns type,value[,confidence,source,description])" });
    } else if (first.fields.some((f) => isIndicator(f.trim()))) {
      errors.push({
        line: first.line,
        message: `line ${first.line}: no header row: this first record looks like data; name the columns in a first row or in the last '#' comment line, with a value column (${VALUE_COLUMN_NAMES}), or import one indicator per line as a list`,
      });
    } else {
      errors.push({
        line: first.line,
        message: `line ${first.line}: header lacks required column(s) value (found: ${first.fields.join(", ")}; a value column is one of ${VALUE_COLUMN_NAMES})`,
      });
    }
    return { format: "csv", iocs: [], errors, unsupported: {} };
  }

  const { header, firstIsData } = found;
  const layout = layoutOf(header, errors);
  const { columns } = layout;
  const iocs: Ioc[] = [];
  const unsupported: Record<string, number> = {};
  const defaultSource = opts.defaultSource ?? "csv";
  const defaultConfidence = opts.defaultConfidence ?? 50;
  const records = function* (): Generator<CsvRecord> {
    if (firstIsData && first) yield first;
    for (let item = reader.next(); item; item = reader.next()) {
      if (item.kind === "record") yield item;
      else if (item.kind === "error") errors.push({ line: item.line, message: item.message });
    }
  };
  for (const rec of records()) {
    yield;
    const line = rec.line;
    const fail = (field: string | undefined, message: string): void => {
      errors.push({ line, ...(field ? { field } : {}), message: `line ${line}: ${message}` });
    };
    const refuse = (field: string, kind: string, message: string): void => {
      unsupported[kind] = (unsupported[kind] ?? 0) + 1;
      fail(field, message);
    };
    if (rec.fields.length > header.fields.length) {
      fail(undefined, `${rec.fields.length} fields but the header has ${header.fields.length} (unquoted comma?)`);
      continue;
    }
    const at = (idx: number | undefined): string => (idx === undefined ? "" : (rec.fields[idx] ?? "").trim());
    const cell = (c: Column): string => at(columns.get(c));

    const typeText = cell("type");
    const valueText = cell("value");
    let kind: IocKind;
    if (columns.has("type")) {
      const resolved = resolveKind(typeText);
      if (resolved === undefined) {
        if (typeText === "") {
          fail("type", "type is empty");
          continue;
        }
        const u = unsupportedKindOfType(typeText);
        const what = `unsupported IOC type '${typeText}'${valueText === "" ? "" : ` for '${valueText}'`}`;
        if (u) refuse("type", u, `${what} (${unsupportedReason(u)})`);
        else refuse("type", typeText.toLowerCase(), `${what} (supported: ip, cidr, domain, sha256)`);
        continue;
      }
      kind = resolved;
      // A generic "hash" type over an MD5 or SHA-1 value is that kind, refused as such.
      if (kind === "sha256" && !typeText.includes("256")) {
        const v = inferValueKind(valueText);
        if (v && !v.supported && (v.kind === "md5" || v.kind === "sha1" || v.kind === "sha512")) {
          refuse("value", v.kind, `unsupported IOC type '${v.kind}' for '${valueText}' (${unsupportedReason(v.kind)})`);
          continue;
        }
      }
    } else {
      const v = inferValueKind(valueText);
      if (v === undefined) {
        fail("value", "value is empty");
        continue;
      }
      if (!v.supported) {
        refuse("value", v.kind, `unsupported IOC type '${v.kind}' for '${valueText}' (${unsupportedReason(v.kind)})`);
        continue;
      }
      kind = v.kind;
    }
    const norm = normalizeValue(kind, valueText);
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
    const description = [cell("description"), ...layout.descriptionFallback.map(at)].find((d) => d !== "" && !isPlaceholder(d));
    if (description !== undefined) ioc.description = description;
    const expiresText = cell("expires");
    if (expiresText !== "") {
      const ms = parseTime(expiresText);
      if (ms === undefined) {
        fail("expires", `expiry '${expiresText}' is not an ISO 8601 time or epoch milliseconds`);
        continue;
      }
      ioc.expiresAtMs = ms;
    }
    const tags = [
      ...new Set(
        layout.tagColumns
          .flatMap((idx) => at(idx).split(/[,;|]/))
          .map((t) => t.trim())
          .filter((t) => t !== "" && !isPlaceholder(t)),
      ),
    ];
    if (tags.length > 0) ioc.tags = tags;
    iocs.push(ioc);
  }
  return { format: "csv", iocs, errors, unsupported };
}
