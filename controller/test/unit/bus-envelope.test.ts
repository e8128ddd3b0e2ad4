import { Event } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { decodeEnvelope, encodeEnvelope, EnvelopeRejected, MAX_ENVELOPE_BYTES } from "../../src/ingest/bus-envelope";

const ev = (seq: number) => Event.fromPartial({ seq, eventTimeMs: 1_700_000_000_000, body: { $case: "agent", agent: { kind: "test", message: `m${seq}`, attributes: {} } } });
const cursor = { agentId: "a-1", ackedSeq: 3, lastSeq: 3, gaps: [] as Array<[number, number]>, missing: 0 };

describe("bus envelope (what storage reads back from JetStream)", () => {
  it("round-trips a batch with its cursor and reported times", () => {
    const { data, meta } = encodeEnvelope({ agentId: "a-1", events: [ev(1), ev(2), ev(3)], receivedAt: 1_700_000_000_500, prevAcked: 0, cursor, reportedTimes: [undefined, 5, undefined] });
    const back = decodeEnvelope(data, meta, "a-1");
    expect(back.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(back.cursor).toEqual(cursor);
    expect(back.reportedTimes).toEqual([undefined, 5, undefined]);
    expect(back.receivedAt).toBe(1_700_000_000_500);
  });

  it("refuses what no agent session published", () => {
    const good = encodeEnvelope({ agentId: "a-1", events: [ev(1), ev(2), ev(3)], receivedAt: 1, prevAcked: 0, cursor, reportedTimes: [] });
    const bad =
      (data: Uint8Array, meta: string | undefined, subject = "a-1") =>
      () =>
        decodeEnvelope(data, meta, subject);
    expect(bad(good.data, undefined)).toThrow(EnvelopeRejected);
    expect(bad(good.data, "{not json")).toThrow(/not JSON/);
    expect(bad(good.data, good.meta, "a-2")).toThrow(/does not match the subject/);
    expect(bad(new Uint8Array(MAX_ENVELOPE_BYTES + 1), good.meta)).toThrow(/too large/);
    expect(bad(new Uint8Array([0xff, 0xff, 0xff]), good.meta)).toThrow(/do not decode/);
    const meta = JSON.parse(good.meta) as Record<string, any>;
    expect(bad(good.data, JSON.stringify({ ...meta, c: { ...meta.c, ackedSeq: 2, lastSeq: 2 } }))).toThrow(/cursor is behind/);
    expect(bad(good.data, JSON.stringify({ ...meta, c: { ...meta.c, gaps: Array.from({ length: 201 }, () => [1, 1]) } }))).toThrow(/gaps/);
    expect(bad(good.data, JSON.stringify({ ...meta, t: [[7, 1]] }))).toThrow(/out of range/);
    expect(bad(good.data, JSON.stringify({ ...meta, a: "../x" }))).toThrow(/agent id/);
    expect(bad(good.data, JSON.stringify({ ...meta, v: 2 }))).toThrow(/version/);
    expect(bad(good.data, "x".repeat(70_000))).toThrow(/too large/);
    // Out-of-order events inside: the agent contract, checked again.
    const swapped = encodeEnvelope({ agentId: "a-1", events: [ev(2), ev(1)], receivedAt: 1, prevAcked: 0, cursor, reportedTimes: [] });
    expect(bad(swapped.data, swapped.meta)).toThrow(/not greater/);
  });
});
