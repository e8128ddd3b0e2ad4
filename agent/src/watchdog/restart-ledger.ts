import { join } from "node:path";
import { fullJitterDelay } from "@vigil/proto";
import { readJsonState, writeJsonAtomic } from "../platform/linux/atomic-file";
import type { WatchdogReason } from "./watchdog";

/**
 * Watchdog restarts survive the process they end: counted by reason in the state dir, reported
 * in AgentStatus.watchdog_restarts, and used to back off a restart loop (an agent that breaches
 * again right after starting waits longer each time before it starts its sensors).
 */
export interface RestartLedger {
  restarts: Partial<Record<WatchdogReason, number>>;
  /** Breaches in a row, each within LOOP_WINDOW_MS of the one before. */
  consecutive: number;
  lastBreachMs: number;
  lastReason?: string;
}

const FILE = "watchdog.json";
/** A breach this long after the previous one starts the loop count over. */
export const LOOP_WINDOW_MS = 10 * 60_000;

export function loadLedger(stateDir: string): RestartLedger {
  try {
    const raw = readJsonState(join(stateDir, FILE)) as Partial<RestartLedger> | undefined;
    if (raw && typeof raw === "object") {
      const restarts: RestartLedger["restarts"] = {};
      for (const k of ["memory", "cpu"] as const) {
        const n = raw.restarts?.[k];
        if (typeof n === "number" && Number.isSafeInteger(n) && n > 0) restarts[k] = n;
      }
      const consecutive = typeof raw.consecutive === "number" && Number.isSafeInteger(raw.consecutive) && raw.consecutive > 0 ? raw.consecutive : 0;
      const lastBreachMs = typeof raw.lastBreachMs === "number" && Number.isFinite(raw.lastBreachMs) ? raw.lastBreachMs : 0;
      return { restarts, consecutive, lastBreachMs, lastReason: typeof raw.lastReason === "string" ? raw.lastReason.slice(0, 512) : undefined };
    }
  } catch {
    // A corrupt ledger only loses counts; it must never keep the agent from starting.
  }
  return { restarts: {}, consecutive: 0, lastBreachMs: 0 };
}

export function recordBreach(stateDir: string, reason: WatchdogReason, detail: string, now = Date.now()): RestartLedger {
  const l = loadLedger(stateDir);
  l.restarts[reason] = (l.restarts[reason] ?? 0) + 1;
  l.consecutive = l.lastBreachMs > 0 && now - l.lastBreachMs < LOOP_WINDOW_MS ? l.consecutive + 1 : 1;
  l.lastBreachMs = now;
  l.lastReason = `${reason}: ${detail}`.slice(0, 512);
  writeJsonAtomic(join(stateDir, FILE), l);
  return l;
}

/** How long to wait before starting the sensors again: 0 unless the last breach was recent. */
export function restartDelayMs(l: RestartLedger, now = Date.now(), random: () => number = Math.random): number {
  if (l.consecutive < 2 || now - l.lastBreachMs >= LOOP_WINDOW_MS) return 0;
  // The first restart is immediate (the service manager's RestartSec already spaced it); a loop backs off.
  return fullJitterDelay(l.consecutive - 2, { baseMs: 2_000, capMs: 5 * 60_000, floorMs: 1_000 }, random);
}
