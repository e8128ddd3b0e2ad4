/**
 * DNS queries sent and not yet answered, so a response can be reported with the question's time
 * and process, and a query that never gets one is still reported once its wait is over. Bounded:
 * at most `maxPending` wait at once; past that the oldest is given up early (reported unanswered),
 * so a process spraying queries at a silent server cannot grow the agent's memory.
 */

export interface PendingQueriesOptions {
  /** How long a query waits for its response. Default 5000 ms (glibc's default timeout). */
  waitMs?: number;
  /** Queries waiting at once. Default 1024. */
  maxPending?: number;
  now?: () => number;
}

/** The identity of one lookup: the same process, transaction id, name and type. */
export function queryKey(pid: number, id: number, name: string, type: number): string {
  return `${pid}|${id}|${type}|${name.toLowerCase()}`;
}

export class PendingQueries<T> {
  /** key -> query; Map order is send order. */
  private readonly waiting = new Map<string, { query: T; sentAt: number }>();
  private readonly waitMs: number;
  private readonly maxPending: number;
  private readonly now: () => number;

  constructor(options: PendingQueriesOptions = {}) {
    this.waitMs = options.waitMs ?? 5000;
    this.maxPending = Math.max(1, options.maxPending ?? 1024);
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.waiting.size;
  }

  /** Remembers a query; returns queries given up to make room (report them unanswered). A resend of the same key replaces it. */
  add(key: string, query: T): T[] {
    this.waiting.delete(key);
    this.waiting.set(key, { query, sentAt: this.now() });
    const out: T[] = [];
    while (this.waiting.size > this.maxPending) {
      const [k, v] = this.waiting.entries().next().value as [string, { query: T }];
      this.waiting.delete(k);
      out.push(v.query);
    }
    return out;
  }

  /** The query this response answers, removed from the waiting ones; undefined when it was not seen. */
  take(key: string): T | undefined {
    const v = this.waiting.get(key);
    if (!v) return undefined;
    this.waiting.delete(key);
    return v.query;
  }

  /** Queries whose wait is over, removed (report them unanswered). */
  expired(): T[] {
    const cutoff = this.now() - this.waitMs;
    const out: T[] = [];
    for (const [k, v] of this.waiting) {
      if (v.sentAt > cutoff) break; // send order: the rest are younger
      this.waiting.delete(k);
      out.push(v.query);
    }
    return out;
  }
}
