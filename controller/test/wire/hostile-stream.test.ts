import { status } from "@grpc/grpc-js";
import { MAX_MESSAGE_BYTES } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

describe("wire: bad input on one stream never hurts another", () => {
  let ctl: TestController;
  let good: RawAgent;

  beforeAll(async () => {
    ctl = await startTestController();
    good = new RawAgent(ctl.grpcPort);
    good.hello("good-agent");
    good.events(1, 10);
    await waitFor("the good agent's first ack", () => good.lastAck() === 10);
  });
  afterAll(async () => {
    good?.close();
    await ctl?.dispose();
  });

  async function assertGoodStillWorks(nextSeq: number) {
    good.events(nextSeq, 5);
    await waitFor(`ack ${nextSeq + 4} on the good stream`, () => good.lastAck() === nextSeq + 4);
    expect(good.error).toBeUndefined();
  }

  it("a malformed protobuf message gets a gRPC error and stores nothing", async () => {
    const bad = new RawAgent(ctl.grpcPort);
    bad.hello("malformed-agent");
    await waitFor("welcome", () => bad.received.length > 0);
    // Field 2 (events) claims 200 bytes but only 3 follow: undecodable.
    bad.sendRaw(Buffer.from([0x12, 0xc8, 0x01, 0x01, 0x02, 0x03]));
    await waitFor("the error on the malformed stream", () => bad.error);
    expect(bad.error!.code).not.toBe(status.OK);
    expect(await ctl.store.countForAgent("malformed-agent")).toBe(0);
    bad.close();
    await assertGoodStillWorks(11);
  });

  it("an oversized message is refused with RESOURCE_EXHAUSTED and stores nothing", async () => {
    const bad = new RawAgent(ctl.grpcPort);
    bad.hello("oversized-agent");
    await waitFor("welcome", () => bad.received.length > 0);
    const huge = "x".repeat(MAX_MESSAGE_BYTES + 1024);
    bad.events(1, 1, () => ({ body: { $case: "agent", agent: { kind: "test", message: huge, attributes: {} } } }));
    await waitFor("the error on the oversized stream", () => bad.error);
    expect(bad.error!.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(await ctl.store.countForAgent("oversized-agent")).toBe(0);
    bad.close();
    await assertGoodStillWorks(16);
  });

  it("events before Hello are refused with FAILED_PRECONDITION", async () => {
    const bad = new RawAgent(ctl.grpcPort);
    bad.events(1, 3);
    await waitFor("the error", () => bad.error);
    expect(bad.error!.code).toBe(status.FAILED_PRECONDITION);
    expect(bad.error!.details).toMatch(/first message .* Hello/);
    bad.close();
  });

  it("a batch breaking the contract (seq order) is rejected whole with INVALID_ARGUMENT", async () => {
    const bad = new RawAgent(ctl.grpcPort);
    bad.hello("disorderly-agent");
    await waitFor("welcome", () => bad.received.length > 0);
    bad.events(5, 3, (seq) => ({ seq: seq === 6 ? 5 : seq }));
    await waitFor("the error", () => bad.error);
    expect(bad.error!.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.error!.details).toMatch(/not greater than the previous/);
    expect(await ctl.store.countForAgent("disorderly-agent")).toBe(0);
    bad.close();
    await assertGoodStillWorks(21);
  });

  it("an invalid agent id in Hello is refused", async () => {
    const bad = new RawAgent(ctl.grpcPort);
    bad.hello("../../etc/passwd");
    await waitFor("the error", () => bad.error);
    expect(bad.error!.code).toBe(status.INVALID_ARGUMENT);
    bad.close();
  });

  it("absurd field values are bounded per field, not stored as sent", async () => {
    const agent = new RawAgent(ctl.grpcPort);
    agent.hello("absurd-agent");
    await waitFor("welcome", () => agent.received.length > 0);
    agent.events(1, 1, () => ({
      body: {
        $case: "process",
        process: {
          action: 1,
          pid: -5,
          ppid: 1,
          exe: "/bin/\u0000evil",
          commandLine: "A".repeat((10 * 1024 * 1024) / 4),
          user: "root",
          uid: 0,
          cwd: "/",
          startTimeMs: 1,
          sha256: "",
          parentExe: "",
          parentCommandLine: "",
          name: "x",
          exeDeleted: false,
          exitCode: 0,
        },
      },
    }));
    await waitFor("ack", () => agent.lastAck() === 1);
    const r = await ctl.get("/api/v1/events?agent=absurd-agent");
    const p = r.body.items[0].process;
    expect(p.pid ?? 0).toBe(0);
    expect(p.exe).toBe("/bin/evil");
    expect(p.commandLine.length).toBeLessThan(40 * 1024);
    agent.close();
  });

  it("a replayed batch (lost ack) is stored once", async () => {
    const agent = new RawAgent(ctl.grpcPort);
    agent.hello("replay-agent");
    await waitFor("welcome", () => agent.received.length > 0);
    agent.events(1, 50);
    await waitFor("ack 50", () => agent.lastAck() === 50);
    agent.close();
    const again = new RawAgent(ctl.grpcPort);
    again.hello("replay-agent");
    await waitFor("welcome", () => again.received.length > 0);
    const w = again.received[0].msg;
    expect(w?.$case === "welcome" && w.welcome.ackedSeq).toBe(50);
    again.events(1, 60);
    await waitFor("ack 60", () => again.lastAck() === 60);
    expect(await ctl.store.countForAgent("replay-agent")).toBe(60);
    again.close();
  });
});
