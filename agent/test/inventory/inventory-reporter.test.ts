import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Inventory } from "@vigil/proto";
import { InventoryReporter } from "../../src/inventory";
import { silentLog } from "../../src/util/log";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * The daily inventory, on the reporter's own defaults (a day between collections, checked hourly).
 * A day cannot be waited for, so the clock is the test's: vitest's fake timers stand in for
 * setInterval/clearInterval and Date only (promises and the file system are real; the state file is
 * written to a temp dir). The collection itself is a stand-in for the `vigil-agent inventory` child
 * (which controller/test/e2e/inventory.test.ts runs for real): what is tested is when it is called.
 */
describe("inventory: at the first connection, then daily", () => {
  let dir: string;
  let reasons: string[];
  let accept: boolean;
  let reporter: InventoryReporter | undefined;

  const make = (): InventoryReporter =>
    new InventoryReporter({
      stateDir: dir,
      log: silentLog,
      send: () => accept,
      collect: (reason) => {
        reasons.push(reason);
        return Promise.resolve(Inventory.fromPartial({ reason }));
      },
    });
  /** Moves the clock on, running every timer due meanwhile and the promises they start. */
  const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"], now: Date.UTC(2026, 0, 1) });
    dir = mkdtempSync(join(tmpdir(), "vigil-inventory-"));
    reasons = [];
    accept = true;
  });

  afterEach(() => {
    reporter?.stop();
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it("collects at the first connection, then once a day, every day, with no connection event needed", async () => {
    reporter = make();
    reporter.start();
    reporter.onConnected();
    await advance(0);
    expect(reasons).toEqual(["first"]);
    // A day is not up: the hourly checks pass without collecting.
    await advance(DAY - HOUR);
    expect(reasons).toEqual(["first"]);
    await advance(HOUR);
    expect(reasons).toEqual(["first", "daily"]);
    // The timer keeps running after it fired: the second and every later day as well.
    await advance(DAY);
    expect(reasons).toEqual(["first", "daily", "daily"]);
    await advance(5 * DAY);
    expect(reasons).toEqual(["first", ...Array<string>(7).fill("daily")]);
  });

  it("a daily inventory the link could not send is tried again at the next hourly check, not a day later", async () => {
    reporter = make();
    reporter.start();
    reporter.onConnected();
    await advance(0);
    accept = false; // the controller is unreachable when the day is up
    await advance(DAY);
    expect(reasons).toEqual(["first", "daily"]);
    await advance(HOUR);
    expect(reasons).toEqual(["first", "daily", "daily"]);
    accept = true;
    await advance(HOUR);
    expect(reasons).toEqual(["first", "daily", "daily", "daily"]);
    // Sent: quiet again until the next day, counted from this send.
    await advance(DAY - HOUR);
    expect(reasons).toHaveLength(4);
    await advance(HOUR);
    expect(reasons).toHaveLength(5);
  });

  it("the last send survives a restart: a restarted agent waits out the day instead of collecting again", async () => {
    reporter = make();
    reporter.start();
    reporter.onConnected();
    await advance(0);
    const sentAt = Date.now();
    expect(JSON.parse(readFileSync(join(dir, "inventory-state.json"), "utf8"))).toEqual({ lastSentMs: sentAt });
    await advance(10 * HOUR);
    reporter.stop();

    reporter = make(); // the agent restarts
    reporter.start();
    reporter.onConnected();
    await advance(0);
    expect(reasons).toEqual(["first"]);
    await advance(DAY - 10 * HOUR);
    expect(reasons).toEqual(["first", "daily"]);
  });

  it("stopped, it schedules nothing more", async () => {
    reporter = make();
    reporter.start();
    reporter.onConnected();
    await advance(0);
    reporter.stop();
    await advance(7 * DAY);
    expect(reasons).toEqual(["first"]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
