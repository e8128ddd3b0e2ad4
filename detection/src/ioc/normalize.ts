import { domainToASCII } from "node:url";
import { formatCidr, formatIp, parseCidr, parseIp } from "../net/ip";
import type { IocKind } from "./types";

export type Normalized = { ok: true; kind: IocKind; value: string } | { ok: false; error: string };

/**
 * Type names seen in real feeds (MISP attribute types, OTX, vendor CSVs) mapped onto ours.
 * "ip" resolves to "cidr" when the value carries a prefix, so feeds that mix both in one column work.
 */
const KIND_ALIASES: Record<string, IocKind> = {
  ip: "ip",
  ipv4: "ip",
  ipv6: "ip",
  "ip-addr": "ip",
  "ip-dst": "ip",
  "ip-src": "ip",
  "ipv4-addr": "ip",
  "ipv6-addr": "ip",
  // ThreatFox: the value is "1.2.3.4:443"; the port is dropped (normalizeValue), the address matched.
  "ip:port": "ip",
  "ip-port": "ip",
  ip_port: "ip",
  address: "ip",
  cidr: "cidr",
  network: "cidr",
  subnet: "cidr",
  "ip-range": "cidr",
  domain: "domain",
  hostname: "domain",
  fqdn: "domain",
  "domain-name": "domain",
  sha256: "sha256",
  "sha-256": "sha256",
  "hash-sha256": "sha256",
  "file-sha256": "sha256",
  sha256_hash: "sha256", // ThreatFox, MalwareBazaar
  "filehash-sha256": "sha256", // OTX
  filehash: "sha256",
  hash: "sha256",
};

export function resolveKind(text: string): IocKind | undefined {
  return KIND_ALIASES[text.trim().toLowerCase()];
}

/**
 * Threat feeds "defang" values so they cannot be clicked: evil[.]com, 1.2.3[.]4, evil(dot)com,
 * hxxp://, hxxps[:]//, http[://].
 */
export function refang(value: string): string {
  return value
    .trim()
    .replace(/\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)/gi, ".")
    .replace(/\[:\/\/\]/g, "://")
    .replace(/\[:\]|\(:\)/g, ":")
    .replace(/\[@\]|\[at\]/gi, "@")
    .replace(/^h(?:xx|\*\*|__)p(s?):/i, "http$1:");
}

/** "1.2.3.4:443", "[2001:db8::1]:443" or "[2001:db8::1]" to the bare address; undefined when not such a form. */
export function stripPort(value: string): { host: string } | { error: string } | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(value) ?? /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(value);
  if (!m) return undefined;
  if (m[2] !== undefined && Number(m[2]) > 65535) return { error: `port ${m[2]} is above 65535` };
  return { host: m[1] as string };
}

const LABEL_RE = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const SHA256_RE = /^[0-9a-f]{64}$/;

function normalizeDomain(raw: string): Normalized {
  let v = raw.toLowerCase();
  if (v.startsWith("*.")) v = v.slice(2); // "*.evil.com" means the same as "evil.com" here: parents match children
  if (v.endsWith(".")) v = v.slice(0, -1);
  // Internationalised names are compared in their ASCII (punycode) form, as DNS carries them.
  // eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included
  const ascii = /^[\x00-\x7f]*$/.test(v) ? v : domainToASCII(v);
  if (ascii === "") return { ok: false, error: `'${raw}' is not a valid domain name` };
  if (parseIp(ascii)) return { ok: false, error: `'${raw}' is an IP address, not a domain` };
  if (ascii.length > 253) return { ok: false, error: `domain '${raw}' is longer than 253 characters` };
  const labels = ascii.split(".");
  // A single label would make every name under that TLD match through parent-domain matching.
  if (labels.length < 2) return { ok: false, error: `domain '${raw}' needs at least two labels (e.g. evil.com)` };
  const bad = labels.find((l) => !LABEL_RE.test(l));
  if (bad !== undefined) return { ok: false, error: `domain '${raw}' has an invalid label '${bad}'` };
  // No top-level domain is all digits (RFC 3696 section 2): "192.0.2.999" is a broken address, not a name.
  if (/^\d+$/.test(labels[labels.length - 1] as string)) return { ok: false, error: `'${raw}' is neither an IP address nor a domain name (its last label is numeric)` };
  return { ok: true, kind: "domain", value: ascii };
}

/** Validates a value for its kind and returns its canonical text, so equal indicators compare equal. */
export function normalizeValue(kind: IocKind, rawValue: string): Normalized {
  const value = refang(rawValue);
  if (value === "") return { ok: false, error: "value is empty" };
  switch (kind) {
    case "ip": {
      if (value.includes("/")) return normalizeValue("cidr", value);
      // An address with a port (ThreatFox ip:port) is matched on the address: Vigil's IP
      // indicators cover every port, which is how address blocklists are used anyway.
      const hp = stripPort(value);
      if (hp && "error" in hp) return { ok: false, error: `'${rawValue}': ${hp.error}` };
      const ip = parseIp(hp ? hp.host : value);
      return ip ? { ok: true, kind: "ip", value: formatIp(ip) } : { ok: false, error: `'${rawValue}' is not an IP address` };
    }
    case "cidr": {
      if (!value.includes("/")) {
        const ip = parseIp(value);
        if (ip) return { ok: true, kind: "ip", value: formatIp(ip) };
      }
      const c = parseCidr(value);
      return c.ok ? { ok: true, kind: "cidr", value: formatCidr(c.cidr) } : { ok: false, error: `'${rawValue}' is not a CIDR: ${c.error}` };
    }
    case "domain":
      // "evil.example:443" (ThreatFox rows carry a port now and then): the name is the indicator.
      return normalizeDomain(/^[^:]+:\d{1,5}$/.test(value) ? value.slice(0, value.lastIndexOf(":")) : value);
    case "sha256": {
      const v = value.toLowerCase().replace(/^sha-?256[:=]/, "");
      if (SHA256_RE.test(v)) return { ok: true, kind: "sha256", value: v };
      return { ok: false, error: `'${rawValue}' is not a SHA-256 (64 hex digits, got ${v.length} characters)` };
    }
  }
}

/** STIX 2.1's High/Medium/Low scale mapped to 0-100 (its appendix A values). */
const WORD_CONFIDENCE: Record<string, number> = { none: 0, low: 15, medium: 50, med: 50, high: 85 };

export type ConfidenceParse = { ok: true; confidence: number } | { ok: false; error: string };

export function parseConfidence(raw: unknown): ConfidenceParse {
  if (typeof raw === "number") {
    if (Number.isFinite(raw) && raw >= 0 && raw <= 100) return { ok: true, confidence: Math.round(raw) };
    return { ok: false, error: `confidence ${raw} is outside 0-100` };
  }
  if (typeof raw === "string") {
    const t = raw.trim().toLowerCase();
    const word = WORD_CONFIDENCE[t];
    if (word !== undefined) return { ok: true, confidence: word };
    if (/^\d+(\.\d+)?$/.test(t)) return parseConfidence(Number(t));
    return { ok: false, error: `confidence '${raw}' is not a number 0-100 or low/medium/high` };
  }
  return { ok: false, error: `confidence must be a number 0-100, got ${typeof raw}` };
}

/** ISO 8601 date/time or epoch milliseconds. */
export function parseTime(raw: string): number | undefined {
  const t = raw.trim();
  if (/^\d{10,16}$/.test(t)) return Number(t);
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return undefined;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}
