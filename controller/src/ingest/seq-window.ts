import { MAX_SEQ } from "@vigil/proto";
import { DEFAULT_SEQ_WINDOW, type SeqWindowOptions } from "../config/seq-window-options";

// The options and their defaults are settings (config/ reads them); re-exported for the ingest side.
export { DEFAULT_SEQ_WINDOW, type SeqWindowOptions };

/** Seqs above this are refused outright (see MAX_SEQ). */
export const SEQ_CEILING = MAX_SEQ;

export interface SeqRefusal {
  seq: number;
  limit: number;
  reason: string;
}

export class SeqWindow {
  constructor(
    private anchorSeq: number,
    private anchorAtMs: number,
    private readonly opts: SeqWindowOptions,
  ) {}

  /** The highest seq this agent can have assigned by `now`, as far as the controller can tell. */
  limit(now: number, ackedSeq: number): number {
    const grown = Math.floor((this.opts.maxRatePerSec * Math.max(0, now - this.anchorAtMs)) / 1000);
    return Math.min(SEQ_CEILING, Math.max(this.anchorSeq + grown, ackedSeq) + this.opts.maxAhead);
  }

  /**
   * The agent's own word (Hello.last_seq): taken, and the window re-anchored at
   * it, only when it fits the window; otherwise it is refused and the window
   * keeps growing from what the controller knew.
   */
  claim(lastSeq: number, now: number, ackedSeq: number): SeqRefusal | null {
    if (!Number.isSafeInteger(lastSeq) || lastSeq < 0) return { seq: lastSeq, limit: this.limit(now, ackedSeq), reason: "Hello.last_seq is not a safe non-negative integer" };
    const limit = this.limit(now, ackedSeq);
    if (lastSeq > limit) return { seq: lastSeq, limit, reason: `Hello.last_seq ${lastSeq} is beyond what this agent can have produced (at most ${limit})` };
    this.anchorSeq = Math.max(this.anchorSeq, lastSeq);
    this.anchorAtMs = now;
    return null;
  }

  /** The first seq in `seqs` (ascending) beyond the window, or null when all fit. */
  check(seqs: readonly number[], now: number, ackedSeq: number): SeqRefusal | null {
    const last = seqs[seqs.length - 1];
    if (last === undefined) return null;
    const limit = this.limit(now, ackedSeq);
    if (last <= limit) return null;
    const seq = seqs.find((s) => s > limit) ?? last;
    return {
      seq,
      limit,
      reason: `seq ${seq} is beyond what this agent can have produced (at most ${limit}: its last known seq plus ${this.opts.maxAhead} plus ${this.opts.maxRatePerSec}/s since then)`,
    };
  }
}
