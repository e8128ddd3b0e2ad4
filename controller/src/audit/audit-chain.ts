import { createHash, createHmac } from "node:crypto";
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

/**
 * The record that switches a chain to keyed hashes. Records before it (chains
 * written before the key existed) keep their plain sha256; it and every record
 * after it carry an HMAC under the audit key, so rewriting any of them, or the
 * legacy records it links to, needs the key.
 */
export const KEYED_MARKER_ACTION = "audit.chain-keyed";

/**
 * The record's hash over the canonical JSON of its content and its predecessor's
 * hash: HMAC-SHA256 under the audit key for keyed records, plain sha256 for legacy ones.
 */
export function recordHash(r: Omit<AuditRecord, "hash">, key?: Buffer): string {
  const body = canonicalJson({ seq: r.seq, time: r.time, actor: r.actor, action: r.action, target: r.target, details: r.details, prevHash: r.prevHash });
  return (key ? createHmac("sha256", key) : createHash("sha256")).update(body).digest("hex");
}

/** A short public name for a key, so a verifier can say "wrong key" instead of "edited". */
export function keyFingerprint(key: Buffer): string {
  return createHmac("sha256", key).update("vigil audit key fingerprint").digest("hex").slice(0, 16);
}

export type VerifyResult =
  | { ok: true; records: number; headHash: string; headSeq: number; keyedFrom: number | null; checkpoint?: { seq: number; time: string } | null; warning?: string }
  | { ok: false; records: number; brokenAt: number; reason: string };

/**
 * Walks records in seq order and reports the first one that does not link:
 * a gap in seq (a row removed), a prev_hash that is not the predecessor's hash
 * (a row removed or reordered) or a hash that does not match the content (a row
 * edited, or re-hashed by someone without the key). Stateful so a long chain is
 * checked page by page.
 */
export class ChainVerifier {
  private prevHash = GENESIS_HASH;
  private expectSeq = 1;
  private count = 0;
  private keyedFrom: number | null = null;
  private broken?: { brokenAt: number; reason: string };
  private readonly fingerprint: string;

  /** `expect`: seq → hash known from outside the database (a checkpoint). */
  constructor(
    private readonly key: Buffer,
    private readonly expect: ReadonlyMap<number, string> = new Map(),
  ) {
    this.fingerprint = keyFingerprint(key);
  }

  push(r: AuditRecord): boolean {
    if (this.broken) return false;
    this.count++;
    if (this.keyedFrom === null && r.action === KEYED_MARKER_ACTION) this.keyedFrom = r.seq;
    if (r.seq !== this.expectSeq) {
      this.broken = { brokenAt: Math.min(r.seq, this.expectSeq), reason: r.seq > this.expectSeq ? `records ${this.expectSeq}..${r.seq - 1} are missing` : `seq ${r.seq} out of order` };
    } else if (r.prevHash !== this.prevHash) {
      this.broken = { brokenAt: r.seq, reason: `prev_hash does not match the hash of record ${r.seq - 1}` };
    } else if (recordHash(r, this.keyedFrom === null ? undefined : this.key) !== r.hash) {
      this.broken = {
        brokenAt: r.seq,
        reason: this.keyedFrom === null ? `hash does not match the record's content (edited)` : `keyed hash does not match the record's content (edited, or re-hashed without the audit key)`,
      };
    } else if (r.seq === this.keyedFrom && markerFingerprint(r) !== this.fingerprint) {
      this.broken = { brokenAt: r.seq, reason: `the chain is keyed with another audit key (fingerprint ${markerFingerprint(r) ?? "missing"}, this key ${this.fingerprint})` };
    } else if (this.expect.has(r.seq) && this.expect.get(r.seq) !== r.hash) {
      this.broken = { brokenAt: r.seq, reason: `record ${r.seq} differs from the checkpoint written outside the database (rewritten)` };
    }
    if (this.broken) return false;
    this.prevHash = r.hash;
    this.expectSeq = r.seq + 1;
    return true;
  }

  result(): VerifyResult {
    if (this.broken) return { ok: false, records: this.count, ...this.broken };
    return { ok: true, records: this.count, headHash: this.prevHash, headSeq: this.expectSeq - 1, keyedFrom: this.keyedFrom };
  }
}

function markerFingerprint(r: AuditRecord): string | undefined {
  try {
    const d = JSON.parse(r.details) as { key?: unknown };
    return typeof d.key === "string" ? d.key : undefined;
  } catch {
    return undefined;
  }
}
