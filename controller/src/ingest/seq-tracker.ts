import type { AgentCursor } from "../database/repositories/event-store";

const MAX_GAPS = 200;

/**
 * Tracks, per agent, the highest sequence below which everything is accounted
 * for. The agent sends in sequence order and replays from the last ack, so a
 * jump forward inside one stream means the agent no longer has those records
 * (its spool dropped them, counted): record the gap and move on rather than
 * stalling acks forever.
 */
export class SeqTracker {
  constructor(private state: AgentCursor) {}

  get cursor(): AgentCursor {
    return this.state;
  }

  /** The cursor after accepting these sequence numbers (sorted ascending); does not mutate. */
  preview(seqs: number[]): AgentCursor {
    let acked = this.state.ackedSeq;
    let last = this.state.lastSeq;
    let gaps = this.state.gaps;
    let missing = this.state.missing;
    for (const s of seqs) {
      if (s > last) last = s;
      if (s <= acked) continue;
      if (s > acked + 1) {
        missing += s - acked - 1;
        gaps = [...gaps, [acked + 1, s - 1] as [number, number]];
        if (gaps.length > MAX_GAPS) gaps = gaps.slice(gaps.length - MAX_GAPS);
      }
      acked = s;
    }
    return { agentId: this.state.agentId, ackedSeq: acked, lastSeq: last, gaps, missing };
  }

  commit(next: AgentCursor): void {
    this.state = next;
  }
}

export function missingCount(gaps: Array<[number, number]>): number {
  return gaps.reduce((n, [a, b]) => n + (b - a + 1), 0);
}
