import { expect } from "vitest";
import type { AgentProcess } from "../support/agent-process";
import type { EventDb } from "../support/event-db";
import { describeAgent, readStatusFile, startSyntheticAgent, waitProduced, type AgentStatusFile, type SyntheticAgentOptions } from "../support/synthetic-agent";
import { waitFor, waitForProgress } from "../support/wait";

export interface Ledger {
  /** Numbers the synthetic source produced: 1..count. */
  count: number;
  /** The spool's last seq when the agent stopped: every seq 1..lastSeq was produced. */
  lastSeq: number;
  stored: number;
  distinctSeqs: number;
  minSeq: number;
  maxSeq: number;
  /** Seqs in 1..lastSeq not stored. */
  missingSeqs: number[];
  /** Counted by the spool's full policy, by kind. */
  dropped: Record<string, number>;
  droppedTotal: number;
  /** Numbers neither stored nor counted as dropped (only a kill -9 between reserving and spooling can cause this). */
  unaccounted: number;
  duplicateNumbers: number;
  storedNumbers: Set<number>;
  status: AgentStatusFile;
}

/**
 * Ends a run so its outcome is exact: waits for the source to finish, stops the
 * agent cleanly (it writes its spool's final stats to status.json), and if
 * anything was still unacknowledged, runs it once more until the controller's
 * stored ack covers the spool's last seq. `timeoutMs` is how long the source or
 * the acks may make no progress before it fails, not a deadline for the whole run.
 */
export async function settle(o: { agent: AgentProcess; options: SyntheticAgentOptions; db: EventDb; agentId: string; timeoutMs?: number; expectLastSeq?: number }): Promise<AgentStatusFile> {
  const count = o.options.count;
  await waitProduced(o.agent.stateDir, count, o.agent, o.timeoutMs ?? 30_000);
  // Usually everything is acked by now (seq = number when nothing was dropped); give it a moment
  // before stopping, without depending on it.
  const expect = o.expectLastSeq ?? count;
  if (expect > 0) await waitFor("the controller to store the last number", async () => (await o.db.agent(o.agentId))?.ackedSeq === expect, 5_000).catch(() => undefined);
  await o.agent.stop("SIGTERM");
  let st = readStatusFile(o.agent.stateDir);
  if (st.spool.ackedSeq < st.spool.lastSeq) {
    const again = startSyntheticAgent({ ...o.options, stateDir: o.agent.stateDir });
    try {
      const last = st.spool.lastSeq;
      await waitForProgress(`the controller to ack seq ${last}`, async () => (await o.db.agent(o.agentId))?.ackedSeq ?? 0, last, {
        stallMs: o.timeoutMs ?? 30_000,
        context: () => describeAgent(again),
      });
    } finally {
      await again.stop("SIGTERM");
    }
    st = readStatusFile(o.agent.stateDir);
  }
  return st;
}

/** Everything the database holds for the agent, checked against what the agent produced. */
export async function ledger(db: EventDb, agentId: string, status: AgentStatusFile, count: number): Promise<Ledger> {
  const totals = await db.totals(agentId);
  const rows = await db.events(agentId);
  const lastSeq = status.spool.lastSeq;
  const seqs = new Set(rows.map((r) => r.seq));
  const missingSeqs: number[] = [];
  for (let s = 1; s <= lastSeq; s++) if (!seqs.has(s)) missingSeqs.push(s);
  const storedNumbers = new Set<number>();
  let duplicateNumbers = 0;
  for (const r of rows) {
    if (storedNumbers.has(r.n)) duplicateNumbers++;
    storedNumbers.add(r.n);
  }
  const droppedTotal = Object.values(status.spool.dropped).reduce((a, b) => a + b, 0);
  return {
    count,
    lastSeq,
    stored: totals.count,
    distinctSeqs: totals.distinct,
    minSeq: totals.min,
    maxSeq: totals.max,
    missingSeqs,
    dropped: status.spool.dropped,
    droppedTotal,
    unaccounted: count - totals.count - droppedTotal,
    duplicateNumbers,
    storedNumbers,
    status,
  };
}

/**
 * The invariant: every produced event is stored exactly once, or was
 * counted as dropped. `maxUnaccounted` allows for numbers reserved by the
 * synthetic source at the instant of a kill -9 (never more than one tick's worth).
 */
export function expectExactlyOnce(l: Ledger, o: { maxUnaccounted?: number } = {}): void {
  const summary = {
    count: l.count,
    lastSeq: l.lastSeq,
    stored: l.stored,
    distinct: l.distinctSeqs,
    min: l.minSeq,
    max: l.maxSeq,
    missing: l.missingSeqs.length,
    dropped: l.droppedTotal,
    unaccounted: l.unaccounted,
  };
  expect(l.stored, JSON.stringify(summary)).toBe(l.distinctSeqs);
  expect(l.duplicateNumbers, "the same synthetic number stored under two seqs").toBe(0);
  expect(l.stored + l.missingSeqs.length, "every seq 1..lastSeq is stored or missing").toBe(l.lastSeq);
  expect(l.maxSeq).toBeLessThanOrEqual(l.lastSeq);
  if (l.droppedTotal === 0) {
    expect(l.missingSeqs, JSON.stringify(summary)).toEqual([]);
    expect(l.minSeq).toBe(1);
    expect(l.maxSeq).toBe(l.lastSeq);
  } else {
    // Stored records the policy dropped leave seq gaps; incoming ones it dropped never got a seq.
    expect(l.missingSeqs.length).toBeLessThanOrEqual(l.droppedTotal);
  }
  expect(l.unaccounted, JSON.stringify(summary)).toBeGreaterThanOrEqual(0);
  expect(l.unaccounted, JSON.stringify(summary)).toBeLessThanOrEqual(o.maxUnaccounted ?? 0);
}
