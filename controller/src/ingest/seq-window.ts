import { MAX_EVENTS_PER_BATCH, MAX_SEQ } from "@vigil/proto";

/**
 * How far an agent's sequence numbers may run ahead of what the controller
 * knows, so one forged seq (2^53−1 with a stolen certificate) cannot push the
 * agent's cursor somewhere its real events never reach.
 *
 * An agent assigns seqs one by one, so its highest seq can have grown since the
 * controller last knew it by at most what it could produce in the meantime:
 * `maxAhead` (what is in flight or spooled around a reconnect) plus
 * `maxRatePerSec` × the seconds elapsed. A controller restored from an old
 * backup knows the agent from long ago, so the window is wide; a fresh agent
 * starts at 0 with a window of `maxAhead` that grows with time, so a legitimate
 * agent refused now (a spool that dropped millions while the controller was
 * away) is accepted a little later instead of being locked out for good.
 */
export interface SeqWindowOptions {
  /** Seqs accepted beyond the anchor (and beyond the contiguous ack) whatever the time: batches in flight. */
  maxAhead: number;
  /** Seqs an agent can assign per second, sustained. */
  maxRatePerSec: number;
}

/** Seqs above this are refused outright (see MAX_SEQ). */
export const SEQ_CEILING = MAX_SEQ;

/** 16 full batches ahead (the agent keeps at most 8 in flight); 10,000 events/s sustained, far above a real host. */
export const DEFAULT_SEQ_WINDOW: SeqWindowOptions = { maxAhead: MAX_EVENTS_PER_BATCH * 16, maxRatePerSec: 10_000 };

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
    return { seq, limit, reason: `seq ${seq} is beyond what this agent can have produced (at most ${limit}: its last known seq plus ${this.opts.maxAhead} plus ${this.opts.maxRatePerSec}/s since then)` };
  }
}
