/**
 * Exponential backoff with full jitter: each delay is drawn uniformly from [floor, ceiling] where
 * the ceiling doubles per attempt up to a cap ("Exponential Backoff And Jitter", AWS Architecture
 * Blog, 2015). Drawing from the whole range, not its upper half ("equal jitter"), is what spreads a
 * fleet reconnecting after a controller restart: their attempts do not stay bunched at ceiling/2.
 * Shared by the agent (controller link, journal and eBPF helper restarts, certificate renewal,
 * watchdog restarts) and the controller (webhook redelivery), so there is one formula to reason about.
 */

export interface BackoffPolicy {
  /** Ceiling of the first delay. */
  baseMs: number;
  /** Largest ceiling. */
  capMs: number;
  /**
   * Smallest delay (default 0). A non-zero floor keeps a retry from coming back at once where that
   * is wasteful (a webhook receiver that just failed); it is clamped to the ceiling.
   */
  floorMs?: number;
}

/** Attempts beyond this do not grow the ceiling further (2^30 × base is past any cap). */
const MAX_EXPONENT = 30;

/** The delay before retry number `attempt` (0 = the first retry), full jitter. */
export function fullJitterDelay(attempt: number, p: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(Math.max(0, Math.floor(attempt)), MAX_EXPONENT);
  const ceiling = Math.min(p.capMs, p.baseMs * 2 ** exp);
  const floor = Math.min(p.floorMs ?? 0, ceiling);
  return Math.round(floor + random() * (ceiling - floor));
}

/** A counter over fullJitterDelay: next() after each failure, reset() after a success. */
export class Backoff {
  private attempt = 0;
  private readonly policy: BackoffPolicy;

  constructor(
    policy: Partial<BackoffPolicy> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.policy = { baseMs: policy.baseMs ?? 500, capMs: policy.capMs ?? 30_000, floorMs: policy.floorMs };
  }

  /** Failures since the last reset. */
  get failures(): number {
    return this.attempt;
  }

  next(): number {
    const delay = fullJitterDelay(this.attempt, this.policy, this.random);
    this.attempt = Math.min(this.attempt + 1, MAX_EXPONENT);
    return delay;
  }

  reset(): void {
    this.attempt = 0;
  }
}
