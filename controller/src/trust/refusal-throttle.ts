/**
 * A misconfigured or hostile agent reconnects every few seconds; recording
 * every refusal would let it grow the audit trail without bound. The first
 * refusal per key is recorded at once, repeats at most once per window with
 * a count of the ones folded in.
 */
export class RefusalThrottle {
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly windowMs = 60_000,
    private readonly maxKeys = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined: suppress. Otherwise the number of refusals folded into this record. */
  admit(key: string): number | undefined {
    const now = this.now();
    const s = this.seen.get(key);
    if (s && now - s.at < this.windowMs) {
      s.suppressed++;
      return undefined;
    }
    if (!s && this.seen.size >= this.maxKeys) {
      for (const [k, v] of this.seen) if (now - v.at >= this.windowMs) this.seen.delete(k);
      if (this.seen.size >= this.maxKeys) this.seen.delete(this.seen.keys().next().value as string);
    }
    const folded = s?.suppressed ?? 0;
    this.seen.set(key, { at: now, suppressed: 0 });
    return folded;
  }
}
