import { describe, expect, it } from "vitest";
import { GateFull, RegistrationGate } from "../../src/transport/registration-gate";

/** A connect storm must not take every database connection, nor queue without end. */
describe("RegistrationGate", () => {
  const deferred = () => {
    let resolve = () => {};
    let reject = (_e: Error) => {};
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    return { promise, resolve, reject };
  };

  it("runs at most `active` at once, the rest in arrival order, and a failure frees its slot", async () => {
    const gate = new RegistrationGate(2, 10);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const holds = Array.from({ length: 6 }, deferred);
    const runs = holds.map((h, i) =>
      gate.run(async () => {
        started.push(i);
        running++;
        peak = Math.max(peak, running);
        try {
          await h.promise;
        } finally {
          running--;
        }
        return i;
      }),
    );
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1]);
    holds[1].reject(new Error("database away"));
    await expect(runs[1]).rejects.toThrow("database away");
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    for (const h of holds) h.resolve();
    expect(await Promise.all([runs[0], ...runs.slice(2)])).toEqual([0, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
    // All slots are free again: two more start at once.
    const again = [deferred(), deferred()];
    let now = 0;
    const both = again.map((d) => gate.run(async () => (now++, d.promise)));
    await new Promise((r) => setImmediate(r));
    expect(now).toBe(2);
    for (const d of again) d.resolve();
    await Promise.all(both);
  });

  it("refuses at once, with GateFull, when the queue is full", async () => {
    const gate = new RegistrationGate(1, 1);
    const hold = deferred();
    const first = gate.run(() => hold.promise);
    const second = gate.run(async () => "second");
    await expect(gate.run(async () => "third")).rejects.toBeInstanceOf(GateFull);
    expect(gate.stats.refused).toBe(1);
    hold.resolve();
    await first;
    expect(await second).toBe("second");
  });
});
