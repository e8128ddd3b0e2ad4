import { ConfigError } from "../config/config-error";
import { parseDuration } from "../config/duration";

export interface DetectionOptions {
  /** Stored events waiting for detection above which ingest acks wait (backpressure). */
  maxQueuedEvents: number;
  /** Events processed per chunk between yields to the event loop and alert writes. */
  chunkEvents: number;
  /** How late (event time) a correlation input may arrive and still count exactly. */
  reorderToleranceMs: number;
  /** How often quiet agents' engines are advanced, and how long an agent must be quiet first. */
  idleTickMs: number;
  /**
   * Longest one event may spend in Sigma matching (in the detection worker). An event over it is
   * counted and raises one "detection budget exceeded" alert per rule; one still running at it is
   * abandoned (the worker is restarted).
   */
  eventBudgetMs: number;
}

export const DEFAULT_DETECTION_OPTIONS: DetectionOptions = {
  maxQueuedEvents: 50_000,
  chunkEvents: 2_000,
  reorderToleranceMs: 60_000,
  idleTickMs: 5_000,
  eventBudgetMs: 1_000,
};

/** Defaults, then VIGIL_DETECTION_* environment, then explicit overrides (tests). */
export function detectionOptions(env: NodeJS.ProcessEnv = process.env, overrides: Partial<DetectionOptions> = {}): DetectionOptions {
  const o = { ...DEFAULT_DETECTION_OPTIONS };
  if (env.VIGIL_DETECTION_QUEUE) o.maxQueuedEvents = positiveInt(env.VIGIL_DETECTION_QUEUE, "VIGIL_DETECTION_QUEUE");
  if (env.VIGIL_DETECTION_REORDER) o.reorderToleranceMs = parseDuration(env.VIGIL_DETECTION_REORDER, "VIGIL_DETECTION_REORDER");
  if (env.VIGIL_DETECTION_IDLE_TICK) o.idleTickMs = parseDuration(env.VIGIL_DETECTION_IDLE_TICK, "VIGIL_DETECTION_IDLE_TICK");
  if (env.VIGIL_DETECTION_EVENT_BUDGET) o.eventBudgetMs = parseDuration(env.VIGIL_DETECTION_EVENT_BUDGET, "VIGIL_DETECTION_EVENT_BUDGET");
  const out = { ...o, ...overrides };
  if (!(out.eventBudgetMs > 0)) throw new ConfigError(`VIGIL_DETECTION_EVENT_BUDGET: must be more than 0`);
  return out;
}

function positiveInt(s: string, name: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name}: expected a positive integer, got "${s}"`);
  return n;
}
