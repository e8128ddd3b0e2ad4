import fc from "fast-check";
import { AgentMessage, Event } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { encodeEventBatchMessage, serializeAgentMessage } from "../../src/transport/wire";

/**
 * wire.ts writes protobuf tags by hand (so a spooled backlog is sent without decoding and
 * re-encoding every event). These properties hold it to the ts-proto generated codecs: what the
 * hand encoder writes, the generated decoder reads back exactly; and what the generated encoder
 * writes for the same message is the same bytes.
 */

const text = fc.string({ maxLength: 40, unit: "grapheme" });
const seq = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const agentBody = fc.record({ kind: text, message: text, attributes: fc.dictionary(text, text, { maxKeys: 4 }) }).map((agent) => ({ $case: "agent" as const, agent }));
const networkBody = fc
  .record({
    protocol: fc.constantFrom("tcp", "udp6"),
    localAddress: text,
    localPort: fc.integer({ min: 0, max: 65535 }),
    remoteAddress: text,
    remotePort: fc.integer({ min: 0, max: 65535 }),
    pid: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    exe: text,
  })
  .map((network) => ({ $case: "network" as const, network }));

const event = fc.record({ seq, eventTimeMs: fc.integer({ min: -(2 ** 40), max: 2 ** 45 }), body: fc.option(fc.oneof(agentBody, networkBody), { nil: undefined }) }).map((e) => Event.fromPartial(e));

describe("hand-written wire encoding against the generated codecs (fast-check)", () => {
  it("hand-encoded → generated decode gives the batch back: first seq and every event, in order", () => {
    fc.assert(
      fc.property(seq, fc.array(event, { maxLength: 20 }), (firstSeq, events) => {
        const payloads = events.map((e) => Event.encode(e).finish());
        const decoded = AgentMessage.decode(encodeEventBatchMessage(firstSeq, payloads));
        expect(decoded.msg?.$case).toBe("events");
        if (decoded.msg?.$case !== "events") return;
        expect(decoded.msg.events.firstSeq).toBe(firstSeq);
        expect(decoded.msg.events.events).toEqual(events);
      }),
    );
  });

  it("generated encode → the same bytes as the hand encoder (and the same message either way)", () => {
    fc.assert(
      fc.property(seq, fc.array(event, { maxLength: 20 }), (firstSeq, events) => {
        const generated = Buffer.from(AgentMessage.encode({ msg: { $case: "events", events: { firstSeq, events } } }).finish());
        const hand = encodeEventBatchMessage(
          firstSeq,
          events.map((e) => Event.encode(e).finish()),
        );
        // proto3 leaves a zero first_seq out; the hand encoder writes it. Both decode alike.
        if (firstSeq !== 0) expect(hand.equals(generated)).toBe(true);
        expect(AgentMessage.decode(hand)).toEqual(AgentMessage.decode(generated));
      }),
    );
  });

  it("the stream serializer passes pre-encoded buffers through and encodes messages with the generated codec", () => {
    fc.assert(
      fc.property(event, (e) => {
        const msg: AgentMessage = { msg: { $case: "heartbeat", heartbeat: { timeMs: e.eventTimeMs, status: undefined } } };
        expect(AgentMessage.decode(serializeAgentMessage(msg))).toEqual(AgentMessage.decode(AgentMessage.encode(msg).finish()));
        const pre = encodeEventBatchMessage(e.seq, [Event.encode(e).finish()]);
        expect(serializeAgentMessage(pre)).toBe(pre);
      }),
    );
  });
});
