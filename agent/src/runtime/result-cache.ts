import { join } from "node:path";
import type { CommandResult } from "@vigil/proto";
import { readJsonState, writeJsonAtomic } from "../platform/linux/atomic-file";

interface Entry {
  /** sha256 of the signed payload + signature: a re-delivery carries the very same bytes. */
  digest: string;
  /** Dropped after this (the command's expiry plus a margin longer than the verifier's replay window). */
  keepUntilMs: number;
  result: CommandResult;
}

/** Bounds the file (rewritten and fsynced per result): far above the commands live for one agent at a time. */
export const MAX_CACHED_RESULTS = 256;
/** Larger outputs (evidence) were reported at first delivery; a re-delivery gets a pointer to that. */
export const MAX_CACHED_OUTPUT_CHARS = 64 * 1024;

/**
 * Results of recently executed controller commands, by command id, persisted in the
 * state dir. The controller re-sends commands it has no result for (the stream may have
 * died before the result got out); answering from here gives the same result again
 * instead of "refused: replayed", and never runs the command twice.
 */
export class ResultCache {
  private readonly path: string;
  private readonly entries = new Map<string, Entry>();

  constructor(
    stateDir: string,
    private readonly now: () => number = Date.now,
  ) {
    this.path = join(stateDir, "command-results.json");
    const raw = readJsonState(this.path);
    if (raw !== undefined) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error(`corrupt state file ${this.path}: expected an object`);
      for (const [id, e] of Object.entries(raw as Record<string, Entry>)) {
        if (e && typeof e.digest === "string" && typeof e.keepUntilMs === "number" && e.result && typeof e.result === "object") this.entries.set(id, e);
      }
    }
    this.prune();
  }

  /** The cached result for exactly this command (same id and same signed bytes), if any. */
  get(id: string, digest: string): CommandResult | undefined {
    const e = this.entries.get(id);
    if (!e || e.digest !== digest || e.keepUntilMs < this.now()) return undefined;
    return e.result;
  }

  size(): number {
    return this.entries.size;
  }

  /** Persists before returning so a crash right after still answers the re-delivery. Best effort: a full disk only loses the cache. */
  put(id: string, digest: string, keepUntilMs: number, result: CommandResult): void {
    const stored: CommandResult =
      result.outputJson.length > MAX_CACHED_OUTPUT_CHARS ? { ...result, outputJson: JSON.stringify({ truncated: true, note: "output was reported with the first delivery of this result" }) } : result;
    this.entries.delete(id);
    this.entries.set(id, { digest, keepUntilMs, result: stored });
    this.prune();
    writeJsonAtomic(this.path, Object.fromEntries(this.entries));
  }

  private prune(): void {
    const t = this.now();
    for (const [id, e] of this.entries) if (e.keepUntilMs < t) this.entries.delete(id);
    // Insertion order is age order: drop the oldest first.
    for (const id of this.entries.keys()) {
      if (this.entries.size <= MAX_CACHED_RESULTS) break;
      this.entries.delete(id);
    }
  }
}
