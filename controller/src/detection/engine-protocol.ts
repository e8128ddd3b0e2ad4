/**
 * Messages between the detection host (main thread) and the detection worker, and the layout of
 * the shared progress slots the host's watchdog reads while the worker is busy.
 */
import type { Match, SigmaEvent } from "@vigil/detection";
import type { EventMeta } from "./event-meta";

/** An uploaded Sigma file; the worker adds the built-in pack itself. */
export interface RuleSource {
  name: string;
  text: string;
}

export interface WorkItem {
  agentId: string;
  ev: SigmaEvent;
  meta: EventMeta;
}

/** A match with the metadata of each of its events (the WeakMap does not cross threads). */
export interface WireMatch {
  match: Match;
  metas: (EventMeta | undefined)[];
}

/**
 * A base-rule match that feeds a correlation, leaving the worker for the owner of its group
 * (issue #12): the router sends it to partitionOf(key), whose owner runs the correlation.
 */
export interface RoutedInput {
  /** the correlation's chain top and group-by values (correlationRoutes/routeKey): the group */
  key: string;
  /** the chain's top correlation, by id */
  anchor: string;
  /** the correlation it is for, and the rule that matched, by id */
  target: string;
  rule: string;
  agentId: string;
  /** the event's sequence on its agent: with agent, rule and target it names the input (stream dedupe) */
  seq: number;
  ev: SigmaEvent;
  meta?: EventMeta;
}

/** A routed input at its owner. */
export interface OwnedInput extends RoutedInput {
  partition: number;
}

export interface AgentMatches {
  agentId: string;
  matches: WireMatch[];
}

/** An event over the budget: abandoned at a rule boundary (`skipped`), or finished late. */
export interface SlowEvent {
  index: number;
  ruleIndex: number;
  ms: number;
  skipped: boolean;
}

export interface WorkerInit {
  uploaded: RuleSource[];
  overrides: [string, boolean][];
  reorderToleranceMs: number;
  /** How long a host must be quiet before its correlation clock moves on by wall time. */
  quietMs: number;
  budgetMs: number;
  progress: SharedArrayBuffer;
}

export type ToWorker =
  | { t: "process"; id: number; nowMs: number; items: WorkItem[] }
  | { t: "advance"; id: number; nowMs: number; quietMs: number }
  | { t: "flush"; id: number; nowMs: number }
  /** routed inputs for partitions this process owns: their correlations' windows run here */
  | { t: "correlate"; id: number; nowMs: number; inputs: OwnedInput[] }
  /** the newest event time of each agent of a chunk: the partitions its inputs reached move on */
  | { t: "clocks"; id: number; nowMs: number; newest: [string, number][] }
  /** partitions no longer owned: their windows are dropped */
  | { t: "drop"; id: number; partitions: number[] }
  | { t: "rules"; id: number; uploaded: RuleSource[] }
  | { t: "enabled"; id: number; ruleId: string; on: boolean };

export type FromWorker =
  | { t: "ready"; rules: { id: string; title: string }[] }
  /** matches of item `index` of request `id` and its routed correlation inputs (sent as soon as the event is done) */
  | { t: "item"; id: number; index: number; matches: WireMatch[]; routed: RoutedInput[] }
  | { t: "done"; id: number; engines: number; slow: SlowEvent[]; groups: AgentMatches[] }
  | { t: "failed"; id: number; message: string };

/** Int32 slots of the progress buffer (written by the worker with Atomics, read by the watchdog). */
export const SLOT = {
  /** incremented when an event starts */
  seq: 0,
  /** 1 while an event is being matched */
  busy: 1,
  /** index (RuleSet.rules) of the rule being tested, -1 before the first */
  rule: 2,
  /** index of the event in its request */
  index: 3,
  /** id of the request being worked on */
  request: 4,
} as const;
export const PROGRESS_BYTES = 8 * Int32Array.BYTES_PER_ELEMENT;
