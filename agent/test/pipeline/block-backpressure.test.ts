import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { AgentStatus, Backoff, type AgentMessage } from "@vigil/proto";
import { afterEach, describe, expect, it } from "vitest";
import { EventPipeline } from "../../src/pipeline/event-pipeline";
import { SyntheticSensor } from "../../src/sensors/synthetic/synthetic-sensor";
import { DiskSpool } from "../../src/spool";
import { ControllerLink } from "../../src/transport/controller-link";
import { silentLog } from "../../src/util/log";
import { serveAgentStreams, until } from "../helpers/loopback";

/**
 * `spool_full_policy: block` with the real parts: a small disk spool, the pipeline, the synthetic
 * sensor producing numbered events far faster than the link drains, and a real gRPC controller on
 * loopback that acknowledges each batch only after a delay. The spool fills, the pipeline holds
 * and pushes back, the sensor waits, and every number arrives: zero lost.
 */
class SlowAckController {
  readonly numbers = new Set<number>();
  batches = 0;
  port = 0;
  stop: () => void = () => undefined;
  constructor(private readonly ackDelayMs: number) {}

  async start(): Promise<void> {
    const served = await serveAgentStreams((call) => {
      call.on("data", (m: AgentMessage) => {
        if (m.msg?.$case === "hello") call.write({ msg: { $case: "welcome", welcome: { ackedSeq: 0, commandPublicKey: Buffer.alloc(0), controllerVersion: "slow" } } });
        if (m.msg?.$case === "events") {
          const events = m.msg.events.events;
          for (const e of events) if (e.body?.$case === "agent") this.numbers.add(Number(e.body.agent.attributes.n));
          this.batches++;
          const last = events[events.length - 1]?.seq ?? 0;
          setTimeout(() => call.write({ msg: { $case: "ack", ack: { seq: last } } }), this.ackDelayMs);
        }
      });
    });
    this.port = served.port;
    this.stop = served.stop;
  }
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe("spool_full_policy: block applies back-pressure", () => {
  it("a sensor producing faster than the link drains fills a small spool, waits, and loses nothing", async () => {
    const COUNT = 6000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-block-"));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const ctl = new SlowAckController(15);
    await ctl.start();
    cleanup.push(() => ctl.stop());

    const spool = DiskSpool.open({ dir: path.join(dir, "spool"), fsync: "never", fullPolicy: "block", maxBytes: 48 * 1024, segmentBytes: 8 * 1024 });
    const pipeline = new EventPipeline(spool, silentLog, { maxHeld: 2000 });
    const link = new ControllerLink({
      address: `127.0.0.1:${ctl.port}`,
      credentials: () => credentials.createInsecure(),
      spool,
      hello: () => ({ agentId: "block", hostname: "h", os: "", kernel: "", agentVersion: "", ipAddresses: [], tags: [], bootTimeMs: 0, lastSeq: spool.stats().lastSeq, arch: "", timeMs: Date.now() }),
      status: () => AgentStatus.fromPartial({}),
      onCommand: () => Promise.reject(new Error("no commands here")),
      log: silentLog,
      heartbeatMs: 60_000,
      // Small batches, one in flight: the link drains ~50 events per ack delay, far below the sensor's rate.
      maxBatchEvents: 50,
      maxInFlightBatches: 1,
      backoff: new Backoff({ baseMs: 20, capMs: 50 }),
    });
    const sensor = new SyntheticSensor({ rate: 20_000, count: COUNT, stateDir: path.join(dir, "synthetic") });
    cleanup.push(
      () => fs.rmSync(dir, { recursive: true, force: true }),
      async () => {
        await sensor.stop();
        pipeline.close();
        await link.stop();
        spool.close();
      },
    );

    let maxHeld = 0;
    const probe = setInterval(() => (maxHeld = Math.max(maxHeld, pipeline.heldCount)), 5);
    cleanup.push(() => clearInterval(probe));
    link.start();
    await sensor.start(pipeline);

    await until(
      "every number at the controller",
      () => ctl.numbers.size === COUNT,
      120_000,
      () =>
        JSON.stringify({
          got: ctl.numbers.size,
          batches: ctl.batches,
          held: pipeline.heldCount,
          lost: pipeline.lost(),
          episodes: pipeline.blockedEpisodes,
          spool: spool.stats(),
          link: link.stats,
          next: sensor.nextNumber,
        }),
    );
    // The spool really was full under block (the pipeline held events and pushed back)...
    expect(pipeline.blockedEpisodes).toBeGreaterThan(0);
    expect(maxHeld).toBeGreaterThan(0);
    // ...and nothing was lost anywhere: not by the pipeline, not by the spool.
    expect(pipeline.lost()).toEqual({});
    expect(spool.dropped()).toEqual({});
    expect(sensor.nextNumber).toBe(COUNT + 1);
    expect([...ctl.numbers].sort((a, b) => a - b)).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    // Memory stayed bounded: the sensor paused instead of outrunning the hold.
    expect(maxHeld).toBeLessThanOrEqual(2000);
  });

  it("when the spool stays full longer than the pipeline can hold, the loss is counted by reason (never silent)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-block-"));
    cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    // No link at all: nothing is ever acknowledged, so nothing frees space.
    const spool = DiskSpool.open({ dir: path.join(dir, "spool"), fsync: "never", fullPolicy: "block", maxBytes: 16 * 1024, segmentBytes: 4 * 1024 });
    const pipeline = new EventPipeline(spool, silentLog, { maxHeld: 100, maxBatch: 10 });
    cleanup.push(
      () => fs.rmSync(dir, { recursive: true, force: true }),
      () => {
        pipeline.close();
        spool.close();
      },
    );
    // A sensor that cannot pace itself (it ignores `congested`).
    for (let n = 1; n <= 2000; n++) pipeline.emit({ $case: "agent", agent: { kind: "t", message: `m${n}`, attributes: { n: String(n) } } }, Date.now());
    pipeline.flush();
    const stored = spool.stats().lastSeq;
    expect(stored).toBeGreaterThan(0);
    expect(pipeline.heldCount).toBe(100);
    expect(pipeline.lost()).toEqual({ held_overflow: 2000 - stored - 100 });
    pipeline.close();
    expect(pipeline.lost()).toEqual({ held_overflow: 2000 - stored - 100, shutdown: 100 });
  });
});
