import fc from "fast-check";
import { BadRequestException } from "@nestjs/common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentMessage, Event } from "@vigil/proto";
import { optEnum, optInt, optString, optTime, rejectUnknown } from "../../src/api/query-params";
import { decodeCursor } from "../../src/api/events.controller";
import { startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

/** A valid EventBatch message as bytes: the seed that mutations start from. */
function validBatch(seq: number): Buffer {
  const events = [
    Event.fromPartial({ seq, eventTimeMs: Date.now(), body: { $case: "process", process: { action: 1, pid: 42, ppid: 1, exe: "/bin/sh", commandLine: "sh -c x", user: "root", uid: 0 } as never } }),
  ];
  return Buffer.from(AgentMessage.encode({ msg: { $case: "events", events: { firstSeq: seq, events } } }).finish());
}

const mutated = fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })).map(([seq, flips]) => {
  const b = validBatch(seq);
  for (const [at, v] of flips) b[at % b.length] = v;
  return b;
});
const payload = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
  mutated,
);

describe("fuzz: protobuf ingest over a real stream", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController();
  });
  afterAll(async () => ctl?.dispose());

  it("random and mutated AgentMessage bytes never crash the controller or disturb another agent's stream", async () => {
    const healthy = new RawAgent(ctl.grpcPort);
    healthy.hello("fuzz-healthy");
    await waitFor("welcome", () => healthy.received.some((m) => m.msg?.$case === "welcome"));
    let next = 1;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(payload, async (bytes) => {
        n++;
        const a = new RawAgent(ctl.grpcPort);
        a.hello(`fuzz-${n}`);
        await waitFor("welcome", () => a.received.some((m) => m.msg?.$case === "welcome") || a.error, 5_000, 5);
        a.sendRaw(bytes);
        // Whatever the bytes do (ack, refusal, nothing), the healthy stream still gets its acks.
        healthy.events(next, 1);
        next++;
        await waitFor("healthy ack", () => healthy.lastAck() >= next - 1, 5_000, 5);
        a.close();
      }),
      { numRuns: 120, seed: 6 },
    );
    expect(healthy.error).toBeUndefined();
    expect((await ctl.get("/api/v1/healthz")).status).toBe(200);
    healthy.close();
  });
});

describe("fuzz: API query validators", () => {
  const query = fc.dictionary(
    fc.oneof(fc.constantFrom("agent", "type", "since", "until", "q", "limit", "cursor"), fc.string({ maxLength: 8 })),
    fc.oneof(fc.string({ maxLength: 300 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.constant(undefined), fc.object({ maxDepth: 1 }) as fc.Arbitrary<unknown>),
  );

  it("validators either return a bounded value or throw a 400, nothing else", () => {
    fc.assert(
      fc.property(query, (q) => {
        for (const f of [
          () => optString(q, "q", 256),
          () => optInt(q, "limit", 1, 1000),
          () => optTime(q, "since"),
          () => optEnum(q, "type", ["process", "file"] as const),
          () => rejectUnknown(q, ["agent", "type"]),
          () => decodeCursor(String(q.cursor ?? "")),
        ]) {
          try {
            const v: unknown = f();
            if (typeof v === "string") expect(v.length).toBeLessThanOrEqual(256);
            if (typeof v === "number") expect(Number.isFinite(v)).toBe(true);
          } catch (err) {
            expect(err).toBeInstanceOf(BadRequestException);
          }
        }
      }),
      { numRuns: 3000, seed: 6 },
    );
  });

  describe("over HTTP", () => {
    let ctl: TestController;
    beforeAll(async () => {
      ctl = await startTestController({ env: { VIGIL_API_RATE: "100000", VIGIL_API_BURST: "100000" } });
    });
    afterAll(async () => ctl?.dispose());

    it("GET /events and /audit with random query strings answer 200 or 400, never 5xx", async () => {
      const raw = fc.array(
        fc.tuple(fc.oneof(fc.constantFrom("agent", "type", "since", "until", "q", "limit", "cursor", "action", "actor"), fc.string({ maxLength: 6 })), fc.string({ maxLength: 80 })),
        { maxLength: 5 },
      );
      await fc.assert(
        fc.asyncProperty(raw, fc.constantFrom("/api/v1/events", "/api/v1/audit"), async (pairs, path) => {
          const qs = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
          const res = await ctl.get(`${path}?${qs}`);
          expect([200, 400]).toContain(res.status);
        }),
        { numRuns: 300, seed: 6 },
      );
    });
  });
});
