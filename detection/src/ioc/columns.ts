/**
 * Column names of IOC CSVs: ours (type,value,confidence,source,description,expires,tags) and the
 * ones real feeds use, so their exports load unchanged. Names are compared lowercased, with blanks
 * and '-' read as '_' ("IOC Value" = "ioc_value"). Columns not listed here are ignored.
 */

export type Column = "type" | "value" | "confidence" | "source" | "description" | "expires";

const ALIASES: Record<string, Column> = {
  type: "type",
  kind: "type",
  ioc_type: "type", // ThreatFox
  indicator_type: "type",
  value: "value",
  indicator: "value",
  ioc: "value",
  ioc_value: "value", // ThreatFox
  // Single-kind feeds name the column after the kind; the kind is then inferred from each value.
  ip: "value",
  ip_address: "value",
  ipaddress: "value",
  dst_ip: "value", // Feodo Tracker
  domain: "value",
  hostname: "value",
  sha256: "value",
  sha256_hash: "value", // MalwareBazaar (its md5_hash and sha1_hash columns are ignored)
  hash: "value",
  url: "value", // URLhaus: every line is then refused as a URL, by name, rather than the file as headerless
  confidence: "confidence",
  confidence_level: "confidence", // ThreatFox
  score: "confidence",
  source: "source",
  feed: "source",
  description: "description",
  comment: "description",
  expires: "expires",
  expires_at: "expires",
  expiry: "expires",
  valid_until: "expires",
};

/**
 * Columns whose cells all become tags (merged, in header order): our tags, and the malware family
 * and threat category columns of Feodo Tracker (malware), ThreatFox (threat_type, tags),
 * MalwareBazaar (signature) and URLhaus (threat, tags). Cells are split on ',', ';' and '|'.
 */
const TAG_COLUMNS = new Set(["tags", "labels", "tag", "malware", "malware_family", "family", "signature", "threat_type", "threat"]);

/** Used as the description when the row has no description of its own (ThreatFox's malware name). */
const DESCRIPTION_FALLBACK = new Set(["malware_printable"]);

export function columnKey(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, "_");
}

export function columnOf(name: string): Column | undefined {
  return ALIASES[columnKey(name)];
}

export function isTagColumn(name: string): boolean {
  return TAG_COLUMNS.has(columnKey(name));
}

export function isDescriptionFallback(name: string): boolean {
  return DESCRIPTION_FALLBACK.has(columnKey(name));
}

/** Value column names, for messages. */
export const VALUE_COLUMN_NAMES = "value, indicator, ioc_value, ip, dst_ip, domain, sha256, sha256_hash, url";

/** Cell text feeds write for "nothing" (ThreatFox "None", MalwareBazaar "n/a"). */
export function isPlaceholder(cell: string): boolean {
  return /^(?:none|n\/a|null|-)$/i.test(cell.trim());
}
