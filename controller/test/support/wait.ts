/** Polls until `check` returns a value (not undefined/false) or the deadline passes. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface ProgressWaitOptions {
  /** Fail once the reading has not grown for this long (a stall), however long the whole wait took. */
  stallMs?: number;
  /** Poll period. */
  everyMs?: number;
  /** Appended to the failure message: what the process under test was doing (its log tail, its counters). */
  context?: () => string | Promise<string>;
}

/**
 * Polls `read` until it reaches `target`. On a loaded machine a healthy producer is slow, not
 * stuck: this fails only when the reading stops growing for `stallMs` (a real stall: stuck
 * stream, backoff, a blocked event loop), and the message says where it stopped, how fast it
 * went before, and `context` (the process's log tail), so the failure can be diagnosed from CI.
 */
export async function waitForProgress(what: string, read: () => Promise<number> | number, target: number, o: ProgressWaitOptions = {}): Promise<number> {
  const stallMs = o.stallMs ?? 20_000;
  const everyMs = o.everyMs ?? 100;
  const started = Date.now();
  let best = -Infinity;
  let first: number | undefined;
  let grewAt = started;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await read();
      first ??= v;
      if (v >= target) return v;
      if (v > best) {
        best = v;
        grewAt = Date.now();
      }
    } catch (err) {
      lastErr = err;
    }
    const now = Date.now();
    if (now - grewAt > stallMs) {
      const at = best === -Infinity ? "no reading" : `stuck at ${best}`;
      const rate = first !== undefined && best > first ? `, ${Math.round(((best - first) * 1000) / Math.max(1, grewAt - started))}/s before that` : "";
      const ctx = o.context ? `\n${await Promise.resolve(o.context()).catch((e: unknown) => `(context unavailable: ${String(e)})`)}` : "";
      throw new Error(`no progress for ${stallMs} ms waiting for ${what} (${at} after ${now - started} ms${rate})${lastErr ? `: ${String(lastErr)}` : ""}${ctx}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
