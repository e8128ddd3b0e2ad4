export type IocKind = "ip" | "cidr" | "domain" | "sha256";

/** One indicator of compromise, already normalised (see normalize.ts). */
export interface Ioc {
  kind: IocKind;
  /** Canonical text: RFC 5952 IPv6, network/prefix CIDR, lowercase ASCII domain, lowercase hex. */
  value: string;
  /** 0-100, how sure the source is that this value is malicious. */
  confidence: number;
  /** Where the indicator came from (feed name, file name, STIX producer). */
  source: string;
  description?: string;
  /** Milliseconds since the Unix epoch after which the indicator no longer matches. */
  expiresAtMs?: number;
  tags?: string[];
  /** The identifier in the source document (STIX indicator id), kept for provenance. */
  sourceId?: string;
}

/** A problem with one line (CSV) or one object (STIX); the rest of the input is still imported. */
export interface IocParseError {
  /** 1-based line of the CSV record (where the record starts, if it spans lines). */
  line?: number;
  /** STIX object id, or "objects[3]" when the object has none. */
  indicatorId?: string;
  /** The column or property at fault, when one is. */
  field?: string;
  /** Human-readable, already prefixed with the location. */
  message: string;
}

export interface IocParseResult {
  iocs: Ioc[];
  errors: IocParseError[];
}
