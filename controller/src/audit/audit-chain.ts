import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical-json";

/** What a caller records; the chain adds seq, time and the hashes. */
export interface AuditEntry {
  /** "apikey:<id>", "cli", "agent:<id>", "system", ... */
  actor: string;
  /** Dotted verb, e.g. "agent.enrolled", "apikey.created", "agent.refused". */
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord {
  seq: number;
  time: number;
  actor: string;
  action: string;
  target: string;
  /** Canonical JSON text. */
  details: string;
  prevHash: string;
  hash: string;
}

/** The chain starts from this value, so the first record's prev_hash is fixed and known. */
export const GENESIS_HASH = "0".repeat(64);

/** sha256 over the canonical JSON of the record's content and its predecessor's hash. */
export function recordHash(r: Omit<AuditRecord, "hash">): string {
  const body = canonicalJson({ seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, details: r.details, prevHash: r.prevHash });
  return createHash("sha256").update(body).digest("hex");
}

export type VerifyResult =
  | { ok: true; records: number; headHash: string; headSeq: number }
  | { ok: false; records: number; brokenAt: number; reason: string };

/**
 * Walks records in seq order and reports the first one that does not link:
 * a gap in seq (a row removed), a prev_hash that is not the predecessor's hash
 * (a row removed or reordered) or a hash that does not match the content (a row
 * edited). Stateful so a long chain is checked page by page.
 */
export class ChainVerifier {
  private prevHash = GENESIS_HASH;
  private expectSeq = 1;
  private count = 0;
  private broken?: { brokenAt: number; reason: string };

  push(r: AuditRecord): boolean {
    if (this.broken) return false;
    this.count++;
    if (r.seq !== this.expectSeq) {
      this.broken = { brokenAt: r.seq, reason: r.seq > this.expectSeq ? `records ${this.expectSeq}..${r.seq - 1} are missing` : `seq ${r.seq} out of order` };
    } else if (r.prevHash !== this.prevHash) {
      this.broken = { brokenAt: r.seq, reason: `prev_hash does not match the hash of record ${r.seq - 1}` };
    } else if (recordHash(r) !== r.hash) {
      this.broken = { brokenAt: r.seq, reason: `hash does not match the record's content (edited)` };
    }
    if (this.broken) return false;
    this.prevHash = r.hash;
    this.expectSeq = r.seq + 1;
    return true;
  }

  result(): VerifyResult {
    if (this.broken) return { ok: false, records: this.count, ...this.broken };
    return { ok: true, records: this.count, headHash: this.prevHash, headSeq: this.expectSeq - 1 };
  }
}
