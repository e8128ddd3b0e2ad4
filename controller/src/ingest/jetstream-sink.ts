import { headers } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Event } from "@vigil/proto";
import type { AgentCursor } from "../database/repositories/event-store";
import { partitionOf } from "../bus/partition";
import { isSubjectToken, type BusNames } from "../bus/streams";
import type { BatchSink } from "./batch-sink";
import { decodeMeta, encodeEnvelope, EnvelopeRejected, META_HEADER } from "./bus-envelope";
import type { RefusedBatch } from "./ingest-writer";

export interface JetStreamSinkStats {
  /** Messages stored by JetStream (a split batch counts each part). */
  published: number;
  events: number;
  /** Messages JetStream already had (same id inside its duplicate window): a replay, not stored twice. */
  duplicates: number;
  failures: number;
  /** Agents whose resume cursor came from the stream (ahead of the database). */
  resumedFromStream: number;
  /** Unreadable last messages met while resuming (counted, the database cursor used). */
  badResume: number;
}

export interface JetStreamSinkDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: BusNames;
  partitions: number;
  /** The server's max_payload: a larger batch is split into several messages. */
  maxPayload: number;
  /** Refusals are counted where single-process mode counts them (the writer: metrics, health). */
  onRefused: (r: RefusedBatch) => void;
  log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  publishTimeoutMs?: number;
}

/**
 * The ingest side of distributed mode: each sanitized batch becomes one JetStream message on
 * `<prefix>.events.<partition>.<agentId>` with message id `<agent>:<first>-<last>`, and the
 * session acks the agent only after the PubAck (JetStream has stored it). The storage workers
 * write it to PostgreSQL later; the message carries the agent's cursor so a reconnect to any
 * replica resumes from what was acked, not from what the database has caught up with.
 */
export class JetStreamSink implements BatchSink {
  readonly stats: JetStreamSinkStats = { published: 0, events: 0, duplicates: 0, failures: 0, resumedFromStream: 0, badResume: 0 };

  constructor(private readonly d: JetStreamSinkDeps) {}

  private subject(agentId: string): string {
    // Agent ids are validated at enrollment; a non-token id could never be routed, so refuse loudly.
    if (!isSubjectToken(agentId)) throw new Error("agent id cannot be used as a subject token");
    return this.d.names.eventsSubject(partitionOf(agentId, this.d.partitions), agentId);
  }

  async submit(agentId: string, events: Event[], cursor: AgentCursor, prevAcked: number, clock: { receivedAt?: number; reportedTimes?: ReadonlyArray<number | undefined> }): Promise<void> {
    const receivedAt = clock.receivedAt ?? Date.now();
    const subject = this.subject(agentId);
    const times = Array.from({ length: events.length }, (_, i) => clock.reportedTimes?.[i]);
    try {
      await this.publishParts(subject, agentId, events, times, cursor, prevAcked, receivedAt);
    } catch (err) {
      this.stats.failures++;
      throw err;
    }
  }

  /**
   * Publishes in order; a batch over the payload limit is halved until each part fits. Every part
   * carries a cursor that covers only itself and what came before, so a crash between parts never
   * lets a reconnect skip the unpublished rest.
   */
  private async publishParts(subject: string, agentId: string, events: Event[], times: Array<number | undefined>, cursor: AgentCursor, prevAcked: number, receivedAt: number): Promise<void> {
    const { data, meta } = encodeEnvelope({ agentId, events, receivedAt, prevAcked, cursor, reportedTimes: times });
    if (data.length + meta.length + 256 > this.d.maxPayload && events.length > 1) {
      const half = Math.ceil(events.length / 2);
      const firstCursor: AgentCursor = { ...cursor, ackedSeq: Math.max(prevAcked, events[half - 1].seq), lastSeq: Math.max(prevAcked, events[half - 1].seq) };
      // The first half's cursor keeps the gaps of the whole batch only if they lie below its end.
      firstCursor.gaps = cursor.gaps.filter(([, b]) => b < events[half - 1].seq);
      firstCursor.missing = cursor.missing - missingAbove(cursor.gaps, events[half - 1].seq);
      await this.publishParts(subject, agentId, events.slice(0, half), times.slice(0, half), firstCursor, prevAcked, receivedAt);
      await this.publishParts(subject, agentId, events.slice(half), times.slice(half), cursor, firstCursor.ackedSeq, receivedAt);
      return;
    }
    const h = headers();
    h.set(META_HEADER, meta);
    const msgID = `${agentId}:${events[0].seq}-${events[events.length - 1].seq}`;
    const ack = await this.d.js.publish(subject, data, { msgID, headers: h, timeout: this.d.publishTimeoutMs ?? 10_000 });
    if (ack.duplicate) this.stats.duplicates++;
    else {
      this.stats.published++;
      this.stats.events += events.length;
    }
  }

  refused(r: RefusedBatch): void {
    this.d.onRefused(r);
  }

  /**
   * max(database cursor, cursor of the agent's last message in the stream). A message the storage
   * workers have not written yet was acked to the agent already: resuming from the database alone
   * would make the agent's next seq look like a gap. An unreadable last message is counted and
   * ignored (the database's word stands; the agent replays, which storage dedupes).
   */
  async resumeCursor(agentId: string, fromDatabase: AgentCursor): Promise<AgentCursor> {
    const last = await this.d.jsm.streams.getMessage(this.d.names.eventsStream, { last_by_subj: this.subject(agentId) });
    if (!last) return fromDatabase;
    let streamCursor: AgentCursor;
    try {
      streamCursor = decodeMeta(last.header?.get(META_HEADER), agentId).cursor;
    } catch (err) {
      if (!(err instanceof EnvelopeRejected)) throw err;
      this.stats.badResume++;
      this.d.log("warn", "unreadable last message for an agent in the events stream; resuming from the database cursor", { agentId, error: err.message });
      return fromDatabase;
    }
    if (streamCursor.ackedSeq <= fromDatabase.ackedSeq) return fromDatabase;
    this.stats.resumedFromStream++;
    return { ...streamCursor, lastSeq: Math.max(streamCursor.lastSeq, fromDatabase.lastSeq) };
  }
}

function missingAbove(gaps: Array<[number, number]>, seq: number): number {
  let n = 0;
  for (const [a, b] of gaps) if (b >= seq) n += b - Math.max(a, seq) + 1;
  return n;
}
