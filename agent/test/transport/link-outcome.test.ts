import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { credentials, Metadata, status } from "@grpc/grpc-js";
import { AgentStatus, Backoff, type AgentMessage } from "@vigil/proto";
import { afterEach, describe, expect, it } from "vitest";
import { PinnedKeyMismatch } from "../../src/runtime/pinned-key";
import { DiskSpool } from "../../src/spool";
import { ControllerLink } from "../../src/transport/controller-link";
import { silentLog, type Log } from "../../src/util/log";
import { serveAgentStreams, until } from "../helpers/loopback";

/**
 * The link over real gRPC on loopback, against controllers that answer every Hello the same way:
 * a refusal that will not change (revoked agent, pinned key mismatch) must not be retried hot,
 * while a controller that is momentarily unable is retried with the normal backoff.
 */
type Answer = { code: number; details: string } | "welcome";

class ScriptedController {
  hellos = 0;
  port = 0;
  stop: () => void = () => undefined;
  constructor(private readonly answer: Answer) {}

  async start(): Promise<void> {
    const served = await serveAgentStreams((call) => {
      call.on("data", (m: AgentMessage) => {
        if (m.msg?.$case !== "hello") return;
        this.hellos++;
        if (this.answer === "welcome") call.write({ msg: { $case: "welcome", welcome: { ackedSeq: 0, commandPublicKey: Buffer.alloc(32, 7), controllerVersion: "t" } } });
        else call.emit("error", { ...this.answer, metadata: new Metadata() });
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

async function linkTo(answer: Answer, extra: { onWelcome?: () => void; log?: Log; fatals?: string[] } = {}): Promise<{ ctl: ScriptedController; link: ControllerLink }> {
  const ctl = new ScriptedController(answer);
  await ctl.start();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "vigil-outcome-"));
  const spool = DiskSpool.open({ dir, fsync: "never" });
  const link = new ControllerLink({
    address: `127.0.0.1:${ctl.port}`,
    credentials: () => credentials.createInsecure(),
    spool,
    hello: () => ({ agentId: "a", hostname: "h", os: "", kernel: "", agentVersion: "", ipAddresses: [], tags: [], bootTimeMs: 0, lastSeq: 0, arch: "", timeMs: Date.now() }),
    status: () => AgentStatus.fromPartial({}),
    onCommand: () => Promise.reject(new Error("no commands here")),
    onWelcome: extra.onWelcome,
    onFatal: (reason) => extra.fatals?.push(reason),
    log: extra.log ?? silentLog,
    heartbeatMs: 60_000,
    backoff: new Backoff({ baseMs: 20, capMs: 50 }),
    fatalBackoffMs: 120_000,
  });
  link.start();
  cleanup.push(
    () => fs.rmSync(dir, { recursive: true, force: true }),
    () => spool.close(),
    () => link.stop(),
    () => ctl.stop(),
  );
  return { ctl, link };
}

describe("the controller link classifies why a stream ended", () => {
  it("a revoked agent (PERMISSION_DENIED) backs off long after one try while a momentarily unavailable controller is retried", async () => {
    const errors: Array<Record<string, unknown>> = [];
    const fatals: string[] = [];
    const log: Log = { ...silentLog, error: (_m, f) => errors.push(f ?? {}) };
    const revoked = await linkTo({ code: status.PERMISSION_DENIED, details: "agent a has been revoked" }, { log, fatals });
    const busy = await linkTo({ code: status.UNAVAILABLE, details: "controller could not register the agent; retry" });
    await until("the revoked agent's refusal classified", () => revoked.link.stats.fatalCount === 1);
    // Same backoff settings: the retryable one comes back again and again meanwhile.
    await until("five retries at the busy controller", () => busy.ctl.hellos >= 5);
    expect(revoked.ctl.hellos).toBe(1);
    expect(revoked.link.stats).toMatchObject({ lastOutcome: "fatal", fatalCount: 1, fatalReason: "PERMISSION_DENIED: agent a has been revoked" });
    expect(busy.link.stats).toMatchObject({ lastOutcome: "retryable", fatalCount: 0 });
    expect(fatals).toEqual(["PERMISSION_DENIED: agent a has been revoked"]);
    const retryIn = errors[0]?.retryInMs as number;
    expect(retryIn).toBeGreaterThanOrEqual(60_000);
    expect(retryIn).toBeLessThanOrEqual(120_000);
  });

  it("a controller whose command key is not the pinned one is fatal too", async () => {
    const refused = await linkTo("welcome", {
      onWelcome: () => {
        throw new PinnedKeyMismatch("AAAA", "BBBB");
      },
    });
    const busy = await linkTo({ code: status.UNAVAILABLE, details: "restarting" });
    await until("the mismatch classified", () => refused.link.stats.fatalCount === 1);
    await until("five retries at the busy controller", () => busy.ctl.hellos >= 5);
    expect(refused.ctl.hellos).toBe(1);
    expect(refused.link.stats.fatalReason).toMatch(/is pinned; refusing this controller/);
  });
});
