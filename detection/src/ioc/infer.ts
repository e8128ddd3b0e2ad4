import { normalizeValue, refang, stripPort } from "./normalize";
import { parseIp } from "../net/ip";
import type { IocKind } from "./types";

/**
 * Indicator kinds that feeds carry but Vigil cannot match: its events hold host names, addresses
 * and SHA-256 file hashes, nothing else. Lines of these kinds are refused (and counted), never
 * turned into something broader.
 */
export type UnsupportedKind = "url" | "md5" | "sha1" | "sha512" | "email";

export type ValueKind = { supported: true; kind: IocKind } | { supported: false; kind: UnsupportedKind };

const WHY: Record<UnsupportedKind, string> = {
  // URL feeds (URLhaus, ThreatFox) list paths on file-sharing sites, CDNs and hijacked web servers:
  // importing the host would flag everything those hosts serve, so the host is not taken instead.
  url: "Vigil events carry no URLs; the host is not imported instead, as URL feeds list paths on shared hosts (file-sharing sites, CDNs, hijacked servers)",
  md5: "Vigil events carry SHA-256 file hashes only",
  sha1: "Vigil events carry SHA-256 file hashes only",
  sha512: "Vigil events carry SHA-256 file hashes only",
  email: "Vigil events carry no e-mail addresses",
};

export function unsupportedReason(kind: UnsupportedKind): string {
  return WHY[kind];
}

const HEX_KIND: Record<number, ValueKind> = {
  64: { supported: true, kind: "sha256" },
  32: { supported: false, kind: "md5" },
  40: { supported: false, kind: "sha1" },
  128: { supported: false, kind: "sha512" },
};

/**
 * The kind a bare value (no type column) most plausibly is: URL (it has a scheme or a path), e-mail,
 * a hash by its length (64 hex sha256; 32 md5, 40 sha1, 128 sha512), a CIDR, an IP (with or
 * without a port), else a domain name. Defanged values are read refanged. Only the shape is looked
 * at: the value may still fail validation for that kind.
 */
export function inferValueKind(raw: string): ValueKind | undefined {
  const v = refang(raw);
  if (v === "") return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return { supported: false, kind: "url" };
  if (/^[^\s@/]+@[^\s@/]+\.[^\s@/]+$/.test(v)) return { supported: false, kind: "email" };
  const hex = v.replace(/^(?:sha-?256|sha-?1|sha-?512|md5)[:=]/i, "");
  if (/^[0-9a-f]+$/i.test(hex)) {
    const k = HEX_KIND[hex.length];
    if (k) return k;
  }
  if (v.includes("/")) return /^[0-9a-f:.]+\/\d{1,3}$/i.test(v) ? { supported: true, kind: "cidr" } : { supported: false, kind: "url" };
  if (parseIp(v) || stripPort(v)) return { supported: true, kind: "ip" };
  return { supported: true, kind: "domain" };
}

/** True when the value is a well-formed indicator of some kind (supported or not), e.g. to tell data from column names. */
export function isIndicator(raw: string): boolean {
  const k = inferValueKind(raw);
  if (!k) return false;
  return k.supported ? normalizeValue(k.kind, raw).ok : true;
}

/** A feed's type name for a kind Vigil does not match ("url", "md5_hash", "FileHash-SHA1", "email-src"...). */
export function unsupportedKindOfType(typeText: string): UnsupportedKind | undefined {
  const t = typeText.trim().toLowerCase();
  if (/(?:^|[^a-z])(?:url|uri|link)(?:[^a-z]|$)/.test(t)) return "url";
  if (t.includes("md5")) return "md5";
  if (/sha-?512/.test(t)) return "sha512";
  if (/sha-?1(?!\d)/.test(t)) return "sha1";
  if (/e-?mail/.test(t)) return "email";
  return undefined;
}
