import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { credentials, Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import { AgentServiceService, AgentStatus, Event, type AgentMessage, type ControllerMessage, type Hello } from "@vigil/proto";
import { afterEach, describe, expect, it } from "vitest";
import { DiskSpool, Priority, type AppendItem } from "../../src/spool";
import { Backoff } from "@vigil/proto";
import { ControllerLink } from "../../src/transport/controller-link";
import { silentLog, type Log } from "../../src/util/log";

/**
 * Issue #10 class 2, the agent's side, with the real spool and the real
 * transport over gRPC on loopback. The controller here is a hostile one (or
 * one whose cursor was poisoned): it welcomes and acks with 2^53−1.
 */
const POISON = 2 ** 53 - 1;

class ForgingController {
  readonly seqs: number[] = [];
  readonly hellos: Hello[] = [];
  private server = new Server();
  port = 0;

  async start(): Promise<void> {
    this.server.addService(AgentServiceService, {
      connect: (call: ServerDuplexStream<AgentMessage, ControllerMessage>) => {
        call.on("data", (m: AgentMessage) => {
          if (m.msg?.$case === "hello") {
            this.hellos.push(m.msg.hello);
            call.write({ msg: { $case: "welcome", welcome: { ackedSeq: POISON, commandPublicKey: Buffer.alloc(0), controllerVersion: "forger" } } });
          }
          if (m.msg?.$case === "events") {
            this.seqs.push(...m.msg.events.events.map((e) => e.seq));
            call.write({ msg: { $case: "ack", ack: { seq: POISON } } });
          }
        });
        call.on("error", () => undefined);
      },
    });
    this.port = await new Promise<number>((resolve, reject) => this.server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

function events(n: number): AppendItem[] {
  return Array.from({ length: n }, () => ({
    kind: "agent",
    priority: Priority.Low,
    encode: (seq: number) => Event.encode(Event.fromPartial({ seq, eventTimeMs: Date.now(), body: { $case: "agent", agent: { kind: "test", message: `e${seq}`, attributes: {} } } })).finish(),
  }));
}

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function link(spool: DiskSpool, port: number, log: Log = silentLog): ControllerLink {
  return new ControllerLink({
    address: `127.0.0.1:${port}`,
    credentials: () => credentials.createInsecure(),
    spool,
    hello: () => ({ agentId: "a", hostname: "h", os: "", kernel: "", agentVersion: "", ipAddresses: [], tags: [], bootTimeMs: 0, lastSeq: spool.stats().lastSeq, arch: "", timeMs: Date.now() }),
    status: () => AgentStatus.fromPartial({}),
    onCommand: async () => {
      throw new Error("no commands here");
    },
    log,
    heartbeatMs: 60_000,
    backoff: new Backoff({ baseMs: 20, capMs: 50 }),
  });
}

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe("the agent never adopts an ack beyond its last appended seq", () => {
  it("a forged Welcome and forged acks are clamped and logged; the agent keeps sending, across a restart", async () => {
    const ctl = new ForgingController();
    await ctl.start();
    cleanup.push(() => ctl.stop());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-link-"));
    const warnings: string[] = [];
    const log: Log = { ...silentLog, warn: (msg) => warnings.push(msg) };

    let spool = DiskSpool.open({ dir, fsync: "never" });
    spool.append(events(5));
    let l = link(spool, ctl.port, log);
    l.start();
    await until("seqs 1-5 at the controller", () => ctl.seqs.length >= 5);
    // The forged Welcome took nothing (1-5 were still sent); the forged acks only the batch they answered.
    await until("ack of 5 taken", () => spool.stats().ackedSeq === 5);
    expect(spool.stats()).toMatchObject({ lastSeq: 5, records: 0 });
    expect(l.stats.acksRefused).toBeGreaterThanOrEqual(2);
    expect(warnings).toContain("controller acknowledged events this agent never produced; ack not adopted beyond what was sent");

    // It keeps numbering and sending.
    expect(spool.append(events(3))).toEqual([6, 7, 8]);
    await until("seqs 6-8 at the controller", () => ctl.seqs.includes(8));
    expect(ctl.seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // And across a restart: the persisted state holds nothing poisoned.
    await l.stop();
    spool.close();
    spool = DiskSpool.open({ dir, fsync: "never" });
    cleanup.push(() => spool.close());
    expect(spool.warnings).toEqual([]);
    expect(spool.stats()).toMatchObject({ ackedSeq: 8, lastSeq: 8 });
    expect(spool.append(events(2))).toEqual([9, 10]);
    l = link(spool, ctl.port, log);
    l.start();
    cleanup.push(() => l.stop());
    await until("seqs 9-10 at the controller", () => ctl.seqs.includes(10));
    expect(ctl.hellos.at(-1)?.lastSeq).toBe(10);
  });
});
