import type { DeviationReason, Match, SigmaEvent } from "@vigil/detection";
import type { Stmt } from "../database/sql-batch";

/** What the pipeline learned about one event beyond its Sigma fields, kept for scoring. */
export interface EventMeta {
  iocHits: { kind: string; value: string; confidence: number; source: string }[];
  /** Login events only: how the login departed from the user's baseline (judged before observing it). */
  deviations?: DeviationReason[];
}

// Keyed by the SigmaEvent object, which correlation matches carry along as contributing events.
const META = new WeakMap<SigmaEvent, EventMeta>();

export function setEventMeta(ev: SigmaEvent, meta: EventMeta): void {
  META.set(ev, meta);
}

export function eventMeta(ev: SigmaEvent): EventMeta | undefined {
  return META.get(ev);
}

/** One rule match with the agent context the alert needs. */
export interface PipelineMatch {
  agentId: string;
  hostname: string;
  agentTags: readonly string[];
  match: Match;
  /** The rule raises no alert (SigmaHQ pack rules below medium): its match only raises entity risk. */
  signalOnly?: boolean;
}

/**
 * Where matches go (the alert service); called once per processed chunk, in order. `writes` are
 * the chunk's other state changes (login baselines), committed in the same transaction.
 */
export interface AlertSink {
  record(matches: PipelineMatch[], writes: Stmt[]): Promise<void>;
}
