import type { AuditQuery, AuditRepository } from "../database/repositories/audit-repository";
import { ChainVerifier, GENESIS_HASH, KEYED_MARKER_ACTION, keyFingerprint, recordHash, type AuditEntry, type AuditRecord, type VerifyResult } from "./audit-chain";
import type { AuditCheckpoints } from "./audit-checkpoints";
import { canonicalJson } from "./canonical-json";
import { requestAudit } from "./request-audit";

export type { AuditEntry, AuditQuery, AuditRecord, VerifyResult };

const MAX_DETAILS = 16 * 1024;
/** At most one checkpoint a second: a burst of batches is one line in the file, not thousands. */
const CHECKPOINT_MIN_MS = 1000;

export interface AuditLogOptions {
  /** The HMAC key (audit-key.ts), kept outside the database. */
  key: Buffer;
  /** Where heads are checkpointed after each batch of appends; none in tests that do not need it. */
  checkpoints?: AuditCheckpoints;
  /** Told when the chain no longer extends the last checkpoint (records removed or rewritten). */
  onBroken?: (reason: string) => void;
  now?: () => number;
}

/**
 * The append-only, hash-chained audit trail, keyed (HMAC) with a secret kept
 * outside the database, its head checkpointed outside it after every batch of
 * appends. Appends are serialised in this process through one promise queue;
 * across processes (the CLI writes too) the UNIQUE seq makes a concurrent
 * writer fail instead of forking the chain, and the append retries on the new head.
 */
export class AuditLog {
  private readonly key: Buffer;
  private readonly checkpoints?: AuditCheckpoints;
  private readonly now: () => number;
  private readonly onBroken?: (reason: string) => void;
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  /** Seq of the keyed-chain marker once seen (undefined: not looked up yet). */
  private keyedFrom?: number;
  private lastCheckpointSeq = 0;
  private checkpointTail: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private pendingCheckpoint?: NodeJS.Timeout;
  private lastCheckpointAt = 0;

  constructor(
    private readonly repo: AuditRepository,
    opts: AuditLogOptions,
  ) {
    this.key = opts.key;
    this.checkpoints = opts.checkpoints;
    this.now = opts.now ?? Date.now;
    this.onBroken = opts.onBroken;
  }

  append(entry: AuditEntry): Promise<AuditRecord> {
    const ctx = requestAudit.getStore();
    if (ctx) ctx.appended++;
    this.pending++;
    const next = this.tail.then(() => this.appendNow(entry));
    // A failed append must not wedge the queue for the next caller.
    this.tail = next
      .catch(() => undefined)
      .finally(() => {
        // The end of a batch (nothing else queued): checkpoint the head outside the database.
        if (--this.pending === 0) this.scheduleCheckpoint();
      });
    return next;
  }

  private scheduleCheckpoint(): void {
    if (this.pendingCheckpoint) return;
    const wait = this.lastCheckpointAt + CHECKPOINT_MIN_MS - Date.now();
    if (wait <= 0) return void this.checkpoint().catch(() => undefined);
    this.pendingCheckpoint = setTimeout(() => {
      this.pendingCheckpoint = undefined;
      void this.checkpoint().catch(() => undefined);
    }, wait);
    this.pendingCheckpoint.unref();
  }

  private flushCheckpoint(): void {
    if (!this.pendingCheckpoint) return;
    clearTimeout(this.pendingCheckpoint);
    this.pendingCheckpoint = undefined;
    void this.checkpoint().catch(() => undefined);
  }

  /** Writes the current head to the checkpoint file and log (when it moved since the last one). */
  checkpoint(): Promise<void> {
    const run = this.checkpointTail.then(async () => {
      if (!this.checkpoints) return;
      const head = await this.repo.head();
      // Only a keyed chain is checkpointed (the marker may have been written by another process).
      const keyedFrom = head && head.seq !== this.lastCheckpointSeq ? await this.findKeyedFrom() : undefined;
      if (!head || keyedFrom === undefined) return;
      // A new checkpoint only extends the last one: if the record it names was removed or rewritten,
      // the last checkpoint stays the newest, so verify keeps reporting it whatever is appended after.
      const last = await this.checkpoints.last();
      if (last) {
        const there = last.seq === head.seq ? head : await this.repo.bySeq(last.seq);
        if (!there || there.hash !== last.hash) {
          this.onBroken?.(`the audit record at the last checkpoint (seq ${last.seq}) is ${there ? "rewritten" : "missing"}; no new checkpoint until the chain is investigated`);
          return;
        }
      }
      await this.checkpoints.write({ seq: head.seq, hash: head.hash, keyedFrom, time: this.now() });
      this.lastCheckpointSeq = head.seq;
      this.lastCheckpointAt = Date.now();
    });
    this.checkpointTail = run.catch(() => undefined);
    return run;
  }

  /** Checkpoints periodically too, so appends by other processes (the CLI) are covered. */
  startCheckpoints(intervalMs: number): void {
    this.timer = setInterval(() => void this.checkpoint().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  /** Resolves when every append queued so far is written (and its checkpoint, if the batch ended). */
  async idle(): Promise<void> {
    await this.tail;
    this.flushCheckpoint();
    await this.checkpointTail;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.idle();
  }

  private async appendNow(entry: AuditEntry): Promise<AuditRecord> {
    let details = canonicalJson(entry.details ?? {});
    if (details.length > MAX_DETAILS) details = canonicalJson({ truncated: true, preview: details.slice(0, 1024) });
    for (let attempt = 0; ; attempt++) {
      try {
        // A chain not keyed yet (new, or written by an older version) is keyed from a marker record on.
        if ((await this.findKeyedFrom()) === undefined)
          await this.insertNext({ actor: "system", action: KEYED_MARKER_ACTION, target: "", details: canonicalJson({ alg: "hmac-sha256", key: keyFingerprint(this.key) }) });
        return await this.insertNext({ actor: entry.actor.slice(0, 160), action: entry.action.slice(0, 64), target: (entry.target ?? "").slice(0, 255), details });
      } catch (err) {
        // Another process took this seq; re-read the head. Anything else is a real failure. The
        // winner of a race goes straight on to its next append while the loser is still reading its
        // error, so without a random pause one writer can lose every round of a long burst.
        if (attempt >= 200 || !(err instanceof SeqTaken)) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 + attempt * 2)));
      }
    }
  }

  private async insertNext(content: Pick<AuditRecord, "actor" | "action" | "target" | "details">): Promise<AuditRecord> {
    const prev = await this.repo.head();
    const base = { seq: (prev?.seq ?? 0) + 1, time: Math.max(this.now(), prev?.time ?? 0), ...content, prevHash: prev?.hash ?? GENESIS_HASH };
    const record: AuditRecord = { ...base, hash: recordHash(base, this.key) };
    if (!(await this.repo.append([record]))) throw new SeqTaken(record.seq);
    if (content.action === KEYED_MARKER_ACTION) this.keyedFrom = record.seq;
    return record;
  }

  private async findKeyedFrom(): Promise<number | undefined> {
    if (this.keyedFrom === undefined) {
      this.keyedFrom = await this.repo.firstSeqOf(KEYED_MARKER_ACTION);
    }
    return this.keyedFrom;
  }

  query(q: AuditQuery): Promise<AuditRecord[]> {
    return this.repo.query(q);
  }

  /** Every record in chain order, a page at a time (for export and verification). */
  async *scan(pageSize = 1000): AsyncGenerator<AuditRecord> {
    let after = 0;
    for (;;) {
      const page = await this.repo.range(after, pageSize);
      for (const r of page) yield r;
      if (page.length < pageSize) return;
      after = page[page.length - 1].seq;
    }
  }

  /**
   * Recomputes the chain with the key and holds it against the last checkpoint
   * written outside the database: an edit, a re-hash without the key and a
   * truncation are each reported at the first bad record.
   */
  async verify(): Promise<VerifyResult> {
    const cp = await this.checkpoints?.last();
    const v = new ChainVerifier(this.key, cp ? new Map([[cp.seq, cp.hash]]) : undefined);
    for await (const r of this.scan()) if (!v.push(r)) break;
    const res = v.result();
    if (!res.ok) return res;
    if (cp && res.headSeq < cp.seq) {
      return {
        ok: false,
        records: res.records,
        brokenAt: res.headSeq + 1,
        reason: `records ${res.headSeq + 1}..${cp.seq} are missing: the chain ends at seq ${res.headSeq} but the checkpoint of ${new Date(cp.time).toISOString()} recorded head seq ${cp.seq} (truncated)`,
      };
    }
    if (cp && res.keyedFrom !== cp.keyedFrom) {
      const at = Math.min(res.keyedFrom ?? cp.keyedFrom, cp.keyedFrom);
      return {
        ok: false,
        records: res.records,
        brokenAt: at,
        reason: `the chain is keyed from seq ${res.keyedFrom ?? "(nowhere)"} but the checkpoint says seq ${cp.keyedFrom} (the keyed part was replaced)`,
      };
    }
    const checkpoint = cp ? { seq: cp.seq, time: new Date(cp.time).toISOString() } : null;
    if (res.keyedFrom === null && res.records > 0) return { ...res, checkpoint, warning: "legacy chain not keyed yet: it is keyed from the next record appended" };
    return { ...res, checkpoint };
  }
}

/** Another writer (another process) appended the record with this seq first. */
class SeqTaken extends Error {
  constructor(seq: number) {
    super(`audit seq ${seq} was taken by another writer`);
  }
}

/** The API/export shape: details parsed back into JSON. */
export function auditView(r: AuditRecord): Record<string, unknown> {
  let details: unknown;
  try {
    details = JSON.parse(r.details);
  } catch {
    details = r.details;
  }
  return { seq: r.seq, time: new Date(r.time).toISOString(), actor: r.actor, action: r.action, target: r.target, details, prevHash: r.prevHash, hash: r.hash };
}
