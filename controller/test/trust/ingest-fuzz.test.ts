import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AgentMessage, Event } from "@vigil/proto";
import { toEventRow } from "../../src/database/repositories/event-row";
import { BatchRejected, sanitizeBatch } from "../../src/ingest/sanitize";

/**
 * The ingest path in-process, thousands of times: bytes off the wire → decode →
 * batch checks and per-field bounds → the stored row. Undecodable bytes are the
 * transport's to refuse (grpc-js turns the throw into a stream error, tested over
 * real gRPC elsewhere); everything that decodes must be stored bounded or
 * rejected whole with BatchRejected, nothing else, and memory must not grow.
 */
function ingest(bytes: Uint8Array): void {
  let msg: AgentMessage;
  try {
    msg = AgentMessage.decode(bytes);
  } catch {
    return; // refused by the transport
  }
  if (msg.msg?.$case !== "events") return;
  try {
    const { events } = sanitizeBatch(msg.msg.events, Date.now());
    for (const ev of events) {
      const row = toEventRow("fuzz-agent", ev, Date.now());
      expect(row.data.length).toBeLessThan(2 * 1024 * 1024);
      expect(row.summary.length).toBeLessThanOrEqual(8192);
    }
  } catch (err) {
    if (!(err instanceof BatchRejected)) throw err;
  }
}

const valid = Buffer.from(
  AgentMessage.encode({
    msg: {
      $case: "events",
      events: {
        firstSeq: 1,
        events: [
          Event.fromPartial({
            seq: 1,
            eventTimeMs: 1_700_000_000_000,
            body: { $case: "process", process: { action: 1, pid: 10, exe: "/usr/bin/curl", commandLine: "curl -T x https://e.example", user: "root" } },
          }),
          Event.fromPartial({ seq: 2, eventTimeMs: 1_700_000_000_001, body: { $case: "auth", auth: { action: 2, user: "root", sourceIp: "203.0.113.5", service: "sshd", raw: "Failed password" } } }),
          Event.fromPartial({ seq: 3, eventTimeMs: 1_700_000_000_002, body: { $case: "agent", agent: { kind: "command_result", message: "ok", attributes: { a: "b" } } } }),
          Event.fromPartial({
            seq: 4,
            eventTimeMs: 1_700_000_000_003,
            body: { $case: "dns", dns: { queryName: "e.example", queryType: "A", answers: ["203.0.113.7", "cdn.e.example"], answered: true, pid: 10 } },
          }),
        ],
      },
    },
  }).finish(),
);

describe("fuzz: the protobuf ingest path in-process", () => {
  it("a DNS event's answers are stored, and a hostile list of them is bounded in count and size", () => {
    const batch = (answers: string[]) => ({ firstSeq: 1, events: [Event.fromPartial({ seq: 1, eventTimeMs: Date.now(), body: { $case: "dns", dns: { queryName: "x.example", answers } } })] });
    const ok = sanitizeBatch(batch(["203.0.113.7", "cdn.x.example"]), Date.now());
    expect(ok.events[0]!.body).toMatchObject({ dns: { answers: ["203.0.113.7", "cdn.x.example"] } });
    const hostile = sanitizeBatch(batch(Array.from({ length: 5000 }, () => "a".repeat(10_000))), Date.now());
    const kept = (hostile.events[0]!.body as { dns: { answers: string[] } }).dns.answers;
    expect(kept.length).toBe(64);
    expect(Math.max(...kept.map((a) => a.length))).toBeLessThan(10_000);
    expect(hostile.report.clipped).toBeGreaterThan(64);
  });

  it("random bytes: decode refuses or the batch is stored bounded / rejected whole", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => ingest(b)),
      { numRuns: 5000 },
    );
  });

  it("mutated valid batches (flipped, cut, inserted bytes) with bounded memory", () => {
    const heapBefore = process.memoryUsage().heapUsed;
    const mutation = fc.array(fc.record({ at: fc.nat(), op: fc.constantFrom("flip", "cut", "insert"), byte: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(mutation, (edits) => {
        let b = Buffer.from(valid);
        for (const e of edits) {
          const at = e.at % (b.length + 1);
          if (e.op === "flip" && at < b.length) b[at] ^= e.byte || 1;
          else if (e.op === "cut") b = b.subarray(0, at);
          else b = Buffer.concat([b.subarray(0, at), Buffer.from([e.byte]), b.subarray(at)]);
        }
        ingest(b);
      }),
      { numRuns: 5000 },
    );
    // 10,000 inputs later the heap has not kept them: growth stays far below what retaining them would cost.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
  });
});
