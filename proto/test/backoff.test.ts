import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Backoff, fullJitterDelay } from "../src/backoff";

describe("shared backoff (full jitter)", () => {
  it("every delay lies in [floor, min(cap, base·2^attempt)]", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 60_000 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, base, cap, floor, r) => {
          const ceiling = Math.min(cap, base * 2 ** Math.min(attempt, 30));
          const d = fullJitterDelay(attempt, { baseMs: base, capMs: cap, floorMs: floor }, () => r);
          expect(d).toBeGreaterThanOrEqual(Math.min(floor, ceiling) - 0.5);
          expect(d).toBeLessThanOrEqual(ceiling + 0.5);
        },
      ),
    );
  });

  it("draws from the whole range, not its upper half (equal jitter never goes below ceiling/2)", () => {
    expect(fullJitterDelay(3, { baseMs: 100, capMs: 10_000 }, () => 0)).toBe(0);
    expect(fullJitterDelay(3, { baseMs: 100, capMs: 10_000 }, () => 1)).toBe(800);
    expect(fullJitterDelay(3, { baseMs: 100, capMs: 10_000 }, () => 0.25)).toBe(200);
    const draws = Array.from({ length: 2000 }, () => fullJitterDelay(4, { baseMs: 100, capMs: 10_000 }));
    const below = draws.filter((d) => d < 800).length;
    // Uniform on [0, 1600]: about half below the midpoint (equal jitter would give none).
    expect(below).toBeGreaterThan(800);
    expect(below).toBeLessThan(1200);
  });

  it("Backoff grows the ceiling per failure up to the cap and starts over after reset", () => {
    const b = new Backoff({ baseMs: 100, capMs: 1000 }, () => 1);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.failures).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });
});
