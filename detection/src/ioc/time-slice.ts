/**
 * Long parses run as generators that yield at safe points (after a record, an object, a line);
 * a driver decides whether to keep going or hand the thread back. One implementation then serves
 * the synchronous API (tests, small inputs) and the controller's import, which must never hold
 * its event loop for more than a few milliseconds at a time.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs the steps to the end without pausing. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

export interface SliceOptions {
  /** Longest stretch of work between two pauses (default 8 ms). */
  sliceMs?: number;
  /** How to hand the thread back (default: setImmediate, so I/O callbacks run in between). */
  pause?: () => Promise<void>;
}

const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

export const yieldToLoop = (): Promise<void> => new Promise((resolve) => (typeof setImmediate === "function" ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** Runs the steps, pausing whenever a slice of work has taken sliceMs. */
export async function runStepsSliced<T>(steps: Steps<T>, opts: SliceOptions = {}): Promise<T> {
  const sliceMs = opts.sliceMs ?? 8;
  const pause = opts.pause ?? yieldToLoop;
  let start = now();
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    if (now() - start >= sliceMs) {
      await pause();
      start = now();
    }
  }
}
