import { MAX_EVENTS_PER_BATCH } from "@vigil/proto";

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

/** 16 full batches ahead (the agent keeps at most 8 in flight); 10,000 events/s sustained, far above a real host. */
export const DEFAULT_SEQ_WINDOW: SeqWindowOptions = { maxAhead: MAX_EVENTS_PER_BATCH * 16, maxRatePerSec: 10_000 };
