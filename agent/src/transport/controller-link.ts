import { type Client, makeGenericClientConstructor, type ChannelCredentials, type ClientDuplexStream } from "@grpc/grpc-js";
import { tlsChannelOptions } from "./tls-target";
import {
  AgentServiceService,
  Backoff,
  classifyTransportError,
  fullJitterDelay,
  MAX_MESSAGE_BYTES,
  type AgentMessage,
  type AgentStatus,
  type Command,
  type CommandResult,
  type ControllerMessage,
  type Hello,
  type PolicyUpdate,
  type Welcome,
} from "@vigil/proto";
import type { DiskSpool } from "../spool";
import type { Log } from "../util/log";
import { PolicyAssembler } from "./policy-assembler";
import { encodeEventBatchMessage, serializeAgentMessage } from "./wire";

export interface LinkOptions {
  address: string;
  /** Called with the address dialled (TLS checks the certificate against it). */
  credentials: (address: string) => ChannelCredentials;
  spool: DiskSpool;
  hello: () => Hello;
  status: () => AgentStatus;
  onCommand: (cmd: Command) => Promise<CommandResult>;
  onPolicy?: (p: PolicyUpdate) => void;
  /** A chunked policy that could not be assembled (the held policy stays in force). */
  onPolicyRefused?: (version: number, reason: string) => void;
  /** The controller asked for a fresh host inventory. */
  onInventoryRequest?: () => void;
  /** Each time the controller has welcomed this agent (after every reconnect). */
  onConnected?: () => void;
  /** Called with every Welcome; throwing refuses the controller (e.g. a pinned key mismatch). */
  onWelcome?: (w: Welcome) => void;
  log: Log;
  heartbeatMs: number;
  maxBatchEvents?: number;
  maxBatchBytes?: number;
  /** Batches written but not yet acknowledged; bounds what a dying stream can strand in memory. */
  maxInFlightBatches?: number;
  backoff?: Backoff;
  /**
   * Wait after a fatal outcome (revoked or refused certificate, pinned key mismatch): drawn from
   * [half, all] of this so a refused fleet does not come back in step. Default 10 minutes.
   */
  fatalBackoffMs?: number;
  /** Called on each fatal outcome, after it is logged and counted (the runtime may exit). */
  onFatal?: (reason: string) => void;
  welcomeTimeoutMs?: number;
}

type Stream = ClientDuplexStream<AgentMessage | Buffer, ControllerMessage>;

const ClientCtor = makeGenericClientConstructor({ connect: { ...AgentServiceService.connect, requestSerialize: serializeAgentMessage } }, "vigil.v1.AgentService") as unknown as new (
  address: string,
  credentials: ChannelCredentials,
  options?: object,
) => Client & { connect(): Stream };

export interface LinkStats {
  connected: boolean;
  connects: number;
  batchesSent: number;
  eventsSent: number;
  acks: number;
  /** Acks beyond the last seq the spool assigned (or not a count): not adopted. */
  acksRefused: number;
  lastError: string;
  /** How the last stream ended: "ok" while connected or before any attempt. */
  lastOutcome: "ok" | "retryable" | "fatal";
  /** Stream ends classified fatal (see classifyTransportError), and the reason of the last one. */
  fatalCount: number;
  fatalReason: string;
}

/**
 * The agent's one stream to the controller. Events are read from the spool,
 * never from memory, so whatever the stream loses in flight is re-sent from
 * disk after the next Welcome. Writes honour flow control ('drain').
 */
export class ControllerLink {
  readonly stats: LinkStats = { connected: false, connects: 0, batchesSent: 0, eventsSent: 0, acks: 0, acksRefused: 0, lastError: "", lastOutcome: "ok", fatalCount: 0, fatalReason: "" };
  private running = false;
  private loop?: Promise<void>;
  private stopCtl = new AbortController();
  private current?: Stream;
  private client?: Client;
  private readonly backoff: Backoff;

  constructor(private readonly o: LinkOptions) {
    this.backoff = o.backoff ?? new Backoff();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopCtl.abort();
    this.current?.cancel();
    this.client?.close();
    await this.loop;
  }

  /** Sends a message outside the event flow (a command result). False when not connected. */
  send(msg: AgentMessage): boolean {
    if (!this.current || !this.stats.connected) return false;
    this.current.write(msg);
    return true;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let delay: number;
      try {
        await this.session();
        delay = this.backoff.next();
      } catch (err) {
        delay = this.afterFailure(err);
      }
      this.stats.connected = false;
      if (!this.running) break;
      await sleep(delay, this.stopCtl.signal);
    }
  }

  /** Classifies why the stream ended, says so, and returns how long to wait before the next try. */
  private afterFailure(err: unknown): number {
    this.stats.lastError = err instanceof Error ? err.message : String(err);
    const outcome = classifyTransportError(err);
    this.stats.lastOutcome = outcome.kind;
    if (outcome.kind !== "fatal") {
      if (this.running) this.o.log.warn("controller stream ended", { controller: this.o.address, error: this.stats.lastError, outcome: outcome.kind });
      return this.backoff.next();
    }
    this.stats.fatalCount++;
    this.stats.fatalReason = outcome.reason;
    const ceiling = this.o.fatalBackoffMs ?? 600_000;
    const delay = fullJitterDelay(0, { baseMs: ceiling, capMs: ceiling, floorMs: ceiling / 2 });
    // Retrying hot would get the same answer: wait long, and say why in the log and in status.
    this.o.log.error("controller refused this agent; not retrying until later", { controller: this.o.address, reason: outcome.reason, retryInMs: delay, fatalCount: this.stats.fatalCount });
    this.o.onFatal?.(outcome.reason);
    return delay;
  }

  private session(): Promise<void> {
    const client = new ClientCtor(this.o.address, this.o.credentials(this.o.address), {
      ...tlsChannelOptions(this.o.address),
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc.keepalive_time_ms": 20_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    this.client = client;
    const call = client.connect();
    this.current = call;
    const sessionCtl = new AbortController();
    const spool = this.o.spool;
    const inFlight: number[] = [];
    let ackWaiter: (() => void) | undefined;
    let welcomed = false;
    // A policy in chunks is assembled per stream: a broken stream discards a partial one.
    const assembler = new PolicyAssembler();

    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        sessionCtl.abort();
        clearInterval(heartbeat);
        clearTimeout(welcomeTimer);
        ackWaiter?.();
        this.current = undefined;
        this.stats.connected = false;
        call.cancel();
        client.close();
        if (err) reject(err);
        else resolve();
      };
      const welcomeTimer = setTimeout(() => finish(new Error("no Welcome from the controller in time")), this.o.welcomeTimeoutMs ?? 15_000);
      const heartbeat = setInterval(() => {
        if (welcomed) call.write({ msg: { $case: "heartbeat", heartbeat: { timeMs: Date.now(), status: this.o.status() } } });
      }, this.o.heartbeatMs);

      call.on("error", (e: Error) => finish(e));
      call.on("end", () => finish(new Error("controller closed the stream")));
      call.on("data", (m: ControllerMessage) => {
        const body = m.msg;
        switch (body?.$case) {
          case "welcome":
            try {
              this.o.onWelcome?.(body.welcome);
            } catch (err) {
              return finish(err as Error);
            }
            welcomed = true;
            clearTimeout(welcomeTimer);
            this.adoptAck(body.welcome.ackedSeq, "welcome", undefined);
            spool.rewind();
            this.stats.connected = true;
            this.stats.connects++;
            this.stats.lastOutcome = "ok";
            this.backoff.reset();
            this.o.log.info("connected to controller", { controller: this.o.address, ackedSeq: body.welcome.ackedSeq });
            void this.sendLoop(call, sessionCtl.signal, inFlight, (w) => (ackWaiter = w)).catch((err: Error) => finish(err));
            this.o.onConnected?.();
            return;
          case "ack": {
            this.stats.acks++;
            const taken = this.adoptAck(body.ack.seq, "ack", inFlight[0]);
            while (inFlight.length && inFlight[0] <= taken) inFlight.shift();
            const w = ackWaiter;
            ackWaiter = undefined;
            w?.();
            return;
          }
          case "command":
            this.o.onCommand(body.command).then(
              (result) => {
                if (!done) call.write({ msg: { $case: "result", result } });
              },
              // onCommand answers every command with a result; a rejection here is a bug, logged, not fatal to the stream.
              (err: unknown) => this.o.log.error("command handler failed", { commandId: body.command.id, error: String(err) }),
            );
            return;
          case "policy":
            this.o.onPolicy?.(body.policy);
            return;
          case "policyChunk": {
            const step = assembler.offer(body.policyChunk);
            if (step.kind === "complete") this.o.onPolicy?.(step.update);
            else if (step.kind === "refused") {
              this.o.log.warn("chunked policy refused", { version: step.version, reason: step.reason });
              this.o.onPolicyRefused?.(step.version, step.reason);
            }
            return;
          }
          case "inventoryRequest":
            this.o.onInventoryRequest?.();
            return;
        }
      });
      call.write({ msg: { $case: "hello", hello: this.o.hello() } });
    });
  }

  /**
   * Commits an ack to the spool. An ack beyond the last seq the spool assigned
   * is false (forged, or a poisoned controller cursor): taking it would stop the
   * agent numbering events, and taking it up to the last seq would delete
   * records never sent. So it counts only for the batch it answers (acks come
   * one per batch, in order: `answers` is that batch's last seq), and for
   * nothing on a Welcome; it is logged and counted, and sending carries on.
   */
  private adoptAck(seq: number, from: "welcome" | "ack", answers: number | undefined): number {
    const spool = this.o.spool;
    let taken: number;
    try {
      taken = spool.commit(seq, answers);
    } catch (err) {
      // Not a count at all (negative, fractional, past 2^53): nothing to take.
      this.stats.acksRefused++;
      this.o.log.warn("controller sent an invalid ack; ignored", { controller: this.o.address, from, ack: seq, error: (err as Error).message });
      return spool.stats().ackedSeq;
    }
    if (taken < seq && seq > spool.stats().lastSeq) {
      this.stats.acksRefused++;
      this.o.log.warn("controller acknowledged events this agent never produced; ack not adopted beyond what was sent", { controller: this.o.address, from, ack: seq, taken });
    }
    return taken;
  }

  private async sendLoop(call: Stream, signal: AbortSignal, inFlight: number[], setAckWaiter: (w: () => void) => void): Promise<void> {
    const spool = this.o.spool;
    const maxInFlight = this.o.maxInFlightBatches ?? 8;
    while (!signal.aborted) {
      if (inFlight.length >= maxInFlight) {
        await new Promise<void>((r) => setAckWaiter(r));
        continue;
      }
      const recs = spool.lease(this.o.maxBatchEvents ?? 500, this.o.maxBatchBytes ?? 1024 * 1024);
      if (!recs.length) {
        await spool.waitForData(signal);
        continue;
      }
      const msg = encodeEventBatchMessage(
        recs[0].seq,
        recs.map((r) => r.payload),
      );
      inFlight.push(recs[recs.length - 1].seq);
      this.stats.batchesSent++;
      this.stats.eventsSent += recs.length;
      if (!call.write(msg))
        await new Promise<void>((r) => {
          call.once("drain", r);
          signal.addEventListener("abort", () => r(), { once: true });
        });
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
