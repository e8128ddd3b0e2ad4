import { BadRequestException } from "@nestjs/common";
import { optString } from "./query-params";

/** An alert keeps at most 50 event references (alerts/alert-candidate.ts); twice that leaves room and still bounds the SQL. */
export const MAX_SEQS = 100;

/**
 * `seq=12,13,40`: the events an alert references, fetched in one request by their (agent, seq)
 * keys. A sequence number is only unique per agent, so the list needs `agent` beside it; it is
 * bounded in count and in each number's size, and a bad one is named in the 400.
 */
export function optSeqList(q: Record<string, unknown>, agentId: string | undefined): number[] | undefined {
  // 100 numbers of up to 16 digits and their commas.
  const s = optString(q, "seq", MAX_SEQS * 17);
  if (s === undefined) return undefined;
  if (agentId === undefined) throw new BadRequestException(`query parameter "seq" needs "agent": sequence numbers are per agent`);
  const parts = s.split(",");
  if (parts.length > MAX_SEQS) throw new BadRequestException(`query parameter "seq" lists ${parts.length} numbers; at most ${MAX_SEQS}`);
  const seqs = new Set<number>();
  for (const p of parts) {
    const t = p.trim();
    const n = Number(t);
    if (!/^\d{1,16}$/.test(t) || !Number.isSafeInteger(n)) throw new BadRequestException(`query parameter "seq" must be comma-separated non-negative integers, got "${t.slice(0, 32)}"`);
    seqs.add(n);
  }
  return [...seqs];
}
