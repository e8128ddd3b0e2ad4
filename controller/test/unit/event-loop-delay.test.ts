import { afterEach, describe, expect, it } from "vitest";
import { EventLoopDelayMonitor } from "../../src/metrics/event-loop-delay";
import { waitFor } from "../support/wait";

function blockFor(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a synchronous stall, as a long decode or a big structured clone would be
  }
}

describe("event-loop delay for health", () => {
  let monitor: EventLoopDelayMonitor | undefined;
  afterEach(() => monitor?.stop());

  it("reports a stall of the main thread in the window it happened, and a quiet window after it", async () => {
    monitor = new EventLoopDelayMonitor(400).start();
    await new Promise((r) => setTimeout(r, 50));
    blockFor(250);
    const stalled = await waitFor("a window with the stall", () => (monitor!.reading().maxMs >= 200 ? monitor!.reading() : undefined), 3_000, 20);
    expect(stalled.p99Ms).toBeGreaterThanOrEqual(200);
    // The next windows have no stall in them: the reading does not keep an old one.
    const quiet = await waitFor("a quiet window", () => (monitor!.reading().maxMs < 150 ? monitor!.reading() : undefined), 3_000, 20);
    expect(quiet.windowMs).toBe(400);
  });
});
