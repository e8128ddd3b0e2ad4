/** Promises that a later event resolves; abort resolves too, so loops simply re-check their state. */
export class Waiters {
  private pending: (() => void)[] = [];

  get size(): number {
    return this.pending.length;
  }

  wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener("abort", done);
        const i = this.pending.indexOf(done);
        if (i >= 0) this.pending.splice(i, 1);
        resolve();
      };
      this.pending.push(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  wakeAll(): void {
    for (const w of this.pending.splice(0)) w();
  }
}
