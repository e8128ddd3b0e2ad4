import { join } from "node:path";
import { readJsonState, writeJsonAtomic } from "../enforcement/state-file";

/** Far above any real command rate; reached only by a flood, which is then refused. */
export const MAX_REPLAY_ENTRIES = 100_000;

/**
 * Ids of commands already accepted, each kept until its command has expired (plus the
 * skew allowance): after that the expiry check refuses a replay by itself, so the
 * store stays bounded by the number of commands live at one time.
 */
export class ReplayStore {
  private readonly path: string;
  private readonly seen = new Map<string, number>();

  constructor(stateDir: string, private readonly retainAfterExpiryMs: number) {
    this.path = join(stateDir, "seen-commands.json");
    const raw = readJsonState(this.path);
    if (raw !== undefined) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`corrupt state file ${this.path}: expected an object`);
      for (const [id, exp] of Object.entries(raw)) if (typeof exp === "number") this.seen.set(id, exp);
    }
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
    this.prune(nowMs);
    if (this.seen.size >= MAX_REPLAY_ENTRIES) throw new Error(`replay store full (${MAX_REPLAY_ENTRIES} live command ids)`);
    this.seen.set(id, expiresAtMs);
    try {
      writeJsonAtomic(this.path, Object.fromEntries(this.seen));
    } catch (e) {
      this.seen.delete(id);
      throw e;
    }
  }

  prune(nowMs: number): void {
    for (const [id, exp] of this.seen) if (exp + this.retainAfterExpiryMs < nowMs) this.seen.delete(id);
  }
}
