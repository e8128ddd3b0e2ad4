import { EventBatch, MAX_EVENTS_PER_BATCH, type Event } from "@vigil/proto";
import type { AgentCursor } from "../database/repositories/event-store";
import { BatchRejected, sanitizeBatch } from "./sanitize";

/** The header carrying a batch's metadata on the events stream. */
export const META_HEADER = "Vigil-Meta";
/** Bounds on what is read back from NATS: nothing larger is parsed. */
export const MAX_ENVELOPE_BYTES = 8 * 1024 * 1024;
const MAX_META_BYTES = 64 * 1024;
const MAX_GAPS = 200;
const AGENT_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** One sanitized agent batch as it travels through JetStream: the events (protobuf) and what storage needs beside them. */
export interface BatchEnvelope {
  agentId: string;
  events: Event[];
  receivedAt: number;
  /** The agent's contiguous ack before this batch. */
  prevAcked: number;
  /** The agent's cursor after this batch: what the database records, and what a reconnect resumes from. */
  cursor: AgentCursor;
  /** Same index as events: the host's reported time where it was not used (see sanitizeBatch). */
  reportedTimes: Array<number | undefined>;
}

interface Meta {
  v: 1;
  a: string;
  r: number;
  p: number;
  c: { ackedSeq: number; lastSeq: number; gaps: Array<[number, number]>; missing: number };
  /** [index, reported time] pairs, only where set. */
  t: Array<[number, number]>;
}

export class EnvelopeRejected extends Error {}

export function encodeEnvelope(e: BatchEnvelope): { data: Uint8Array; meta: string } {
  const t: Array<[number, number]> = [];
  e.reportedTimes.forEach((v, i) => {
    if (v !== undefined) t.push([i, v]);
  });
  const meta: Meta = { v: 1, a: e.agentId, r: e.receivedAt, p: e.prevAcked, c: { ackedSeq: e.cursor.ackedSeq, lastSeq: e.cursor.lastSeq, gaps: e.cursor.gaps, missing: e.cursor.missing }, t };
  return { data: EventBatch.encode({ firstSeq: e.events[0]?.seq ?? 0, events: e.events }).finish(), meta: JSON.stringify(meta) };
}

const safe = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;

/** Only the metadata (the cursor a reconnect resumes from); checked like the whole envelope. */
export function decodeMeta(meta: string | undefined, subjectAgent?: string): Omit<BatchEnvelope, "events" | "reportedTimes"> & { times: Array<[number, number]> } {
  if (!meta) throw new EnvelopeRejected("missing metadata header");
  if (meta.length > MAX_META_BYTES) throw new EnvelopeRejected("metadata header too large");
  let m: Meta;
  try {
    m = JSON.parse(meta) as Meta;
  } catch {
    throw new EnvelopeRejected("metadata is not JSON");
  }
  if (!m || typeof m !== "object" || m.v !== 1) throw new EnvelopeRejected("unknown metadata version");
  if (typeof m.a !== "string" || !AGENT_ID_RE.test(m.a)) throw new EnvelopeRejected("bad agent id");
  if (subjectAgent !== undefined && m.a !== subjectAgent) throw new EnvelopeRejected("agent id does not match the subject");
  if (!safe(m.r) || !safe(m.p)) throw new EnvelopeRejected("bad receive time or previous ack");
  const c = m.c as Meta["c"] | undefined;
  if (!c || !safe(c.ackedSeq) || !safe(c.lastSeq) || !safe(c.missing) || c.lastSeq < c.ackedSeq) throw new EnvelopeRejected("bad cursor");
  if (!Array.isArray(c.gaps) || c.gaps.length > MAX_GAPS || !c.gaps.every((g) => Array.isArray(g) && g.length === 2 && safe(g[0]) && safe(g[1]) && g[0] <= g[1]))
    throw new EnvelopeRejected("bad cursor gaps");
  if (!Array.isArray(m.t) || m.t.length > MAX_EVENTS_PER_BATCH || !m.t.every((x) => Array.isArray(x) && x.length === 2 && safe(x[0]) && typeof x[1] === "number" && Number.isSafeInteger(x[1])))
    throw new EnvelopeRejected("bad reported times");
  return {
    agentId: m.a,
    receivedAt: m.r,
    prevAcked: m.p,
    cursor: { agentId: m.a, ackedSeq: c.ackedSeq, lastSeq: c.lastSeq, gaps: c.gaps.map((g) => [g[0], g[1]] as [number, number]), missing: c.missing },
    times: m.t,
  };
}

/**
 * Reads a message back from the events stream. Hostile until checked: sizes bounded before
 * parsing, the metadata's shape checked, the events decoded and put through the same contract
 * checks as an agent's batch (sanitizeBatch), the cursor consistent with the events.
 */
export function decodeEnvelope(data: Uint8Array, meta: string | undefined, subjectAgent: string): BatchEnvelope {
  if (data.length > MAX_ENVELOPE_BYTES) throw new EnvelopeRejected("message too large");
  const m = decodeMeta(meta, subjectAgent);
  let batch: EventBatch;
  try {
    batch = EventBatch.decode(data);
  } catch (err) {
    throw new EnvelopeRejected(`events do not decode: ${String(err).slice(0, 200)}`);
  }
  let events: Event[];
  try {
    // Event times were already judged at ingest (a far-off one replaced, its report in `t`): no second judgement.
    events = sanitizeBatch(batch, m.receivedAt, Number.MAX_SAFE_INTEGER).events;
  } catch (err) {
    if (err instanceof BatchRejected) throw new EnvelopeRejected(err.message);
    throw err;
  }
  if (events[events.length - 1].seq > m.cursor.ackedSeq) throw new EnvelopeRejected("cursor is behind the batch's events");
  const reportedTimes: Array<number | undefined> = new Array<number | undefined>(events.length).fill(undefined);
  for (const [i, v] of m.times) {
    if (i >= events.length) throw new EnvelopeRejected("reported time index out of range");
    reportedTimes[i] = v;
  }
  return { agentId: m.agentId, events, receivedAt: m.receivedAt, prevAcked: m.prevAcked, cursor: m.cursor, reportedTimes };
}

/** What decodePartitionMessage reads of a JetStream message. */
export interface StreamMessage {
  subject: string;
  data: Uint8Array;
  headers?: { get(key: string): string };
}

/**
 * A message read from partition `partition` of the events stream (`<prefix>.events.<p>.<agent>`):
 * the subject must be that partition's and name a valid agent, matching the one inside.
 */
export function decodePartitionMessage(prefix: string, partition: number, m: StreamMessage): BatchEnvelope {
  const head = `${prefix}.events.${partition}.`;
  if (!m.subject.startsWith(head)) throw new EnvelopeRejected("message on another partition's subject");
  return decodeEnvelope(m.data, m.headers?.get(META_HEADER), m.subject.slice(head.length));
}
