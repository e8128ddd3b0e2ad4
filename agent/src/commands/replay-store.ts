import { join } from "node:path";
import { readJsonState, writeJsonAtomic } from "../platform/linux/atomic-file";

/** Far above any real command rate; reached only by a flood, which is then refused. */
export const MAX_REPLAY_ENTRIES = 100_000;

interface Persisted {
  /** The highest agent clock reading ever seen: the clock pruning is measured by. */
  highWaterMs: number;
  ids: Record<string, number>;
}

/**
 * Ids of commands already accepted, each kept until its command has expired (plus the
 * skew allowance): after that the expiry check refuses a replay by itself, so the
 * store stays bounded by the number of commands live at one time.
 *
 * "Expired" is judged by the highest clock reading ever seen (persisted), never by the
 * current one: if the clock ran ahead, ids were pruned, and the clock then went back,
 * a pruned command would look valid again. Against the high-water mark it stays
 * expired, because pruning and the expiry check use the same horizon.
 */
export class ReplayStore {
  private readonly path: string;
  private readonly seen = new Map<string, number>();
  private highWater = 0;

  constructor(
    stateDir: string,
    private readonly retainAfterExpiryMs: number,
  ) {
    this.path = join(stateDir, "seen-commands.json");
    const raw = readJsonState(this.path);
    if (raw === undefined) return;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`corrupt state file ${this.path}: expected an object`);
    const r = raw as Record<string, unknown>;
    // Version 1 was the bare id → expiry map, without a high-water mark.
    const ids = typeof r.ids === "object" && r.ids !== null && !Array.isArray(r.ids) ? (r.ids as Record<string, unknown>) : r;
    if (typeof r.highWaterMs === "number" && Number.isSafeInteger(r.highWaterMs)) this.highWater = r.highWaterMs;
    for (const [id, exp] of Object.entries(ids)) if (typeof exp === "number") this.seen.set(id, exp);
  }

  /** Records a clock reading; returns the highest ever seen (never less than `nowMs`). */
  observe(nowMs: number): number {
    if (nowMs > this.highWater) this.highWater = nowMs;
    return this.highWater;
  }

  /** Commands that expired before this (by the highest clock seen) may have been forgotten: refuse them. */
  horizonMs(): number {
    return this.highWater - this.retainAfterExpiryMs;
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }

  size(): number {
    return this.seen.size;
  }

  /**
   * Records an id durably before its command runs, so a crash mid-command cannot
   * make it runnable again. Throws if the id cannot be recorded.
   */
  add(id: string, expiresAtMs: number, nowMs: number): void {
    this.observe(nowMs);
    this.prune();
    if (this.seen.size >= MAX_REPLAY_ENTRIES) throw new Error(`replay store full (${MAX_REPLAY_ENTRIES} live command ids)`);
    this.seen.set(id, expiresAtMs);
    try {
      const state: Persisted = { highWaterMs: this.highWater, ids: Object.fromEntries(this.seen) };
      writeJsonAtomic(this.path, state);
    } catch (e) {
      this.seen.delete(id);
      throw e;
    }
  }

  /** Forgets ids whose commands expired before the horizon; a clock that went back prunes nothing more. */
  prune(nowMs?: number): void {
    if (nowMs !== undefined) this.observe(nowMs);
    const horizon = this.horizonMs();
    for (const [id, exp] of this.seen) if (exp < horizon) this.seen.delete(id);
  }
}
