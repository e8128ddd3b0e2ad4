import { status as GrpcStatus, type ServerDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { GateFull, type RegistrationGate } from "./registration-gate";
import { ControllerMessage, MAX_MESSAGE_BYTES, type AgentMessage, type CommandResult, type EventBatch, type Hello, type Inventory } from "@vigil/proto";
import type { AgentRegistry, LiveSession } from "../agents/agent-registry";
import { statusJson } from "../agents/agent-registry";
import type { BatchSink } from "../ingest/batch-sink";
import { BatchRejected, sanitizeBatch, type SanitizeReport } from "../ingest/sanitize";
import { SeqTracker } from "../ingest/seq-tracker";
import type { SeqRefusal, SeqWindow } from "../ingest/seq-window";
import { AuthError, type AgentAuthenticator } from "../trust/authenticator";

/** An AgentMessage that could not be decoded (e.g. a seq past 2^53), handed to the session by grpc-server's lenient deserializer to refuse clearly. */
export interface UndecodableMessage {
  msg: undefined;
  undecodable: string;
}

/** How long a closed stream may take to flush its queued writes and the status before it is dropped. */
const CLOSE_GRACE_MS = 10_000;

export interface SessionDeps {
  registry: AgentRegistry;
  /** Where batches go: the database (IngestWriter) or JetStream (distributed mode); acked after it resolves. */
  writer: BatchSink;
  authenticator: AgentAuthenticator;
  commandPublicKey: () => Buffer;
  onCommandResult?: (agentId: string, result: CommandResult) => void;
  /** The host inventory the agent collected (bounded again by the receiver). */
  onInventory?: (agentId: string, inventory: Inventory) => void;
  onConnected?: (session: AgentSession) => void;
  log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  controllerVersion: string;
  /** Something an agent sent that it cannot have produced (a seq beyond its window): recorded (audit trail). */
  onAnomaly?: (agentId: string, kind: "seq_refused" | "seq_claim_refused" | "seq_cursor_healed", details: Record<string, unknown>) => void;
  /** What sanitizing an accepted batch clipped and redacted (counted in the metrics). */
  onSanitized?: (report: SanitizeReport) => void;
  /** Event times further than this from the receive time are stored at the receive time, marked. */
  eventTimeToleranceMs?: number;
  /** Bounds concurrent registrations (they take database connections); none in tests that do not need it. */
  registrations?: RegistrationGate;
}

type Call = ServerDuplexStream<AgentMessage, ControllerMessage>;

function grpcError(code: GrpcStatus, details: string): Partial<ServiceError> {
  return { code, details, message: details };
}

/**
 * One agent's stream. Reading is paused while a batch is being stored, so a
 * slow database pushes back through HTTP/2 flow control to the agent (which
 * keeps spooling) instead of piling batches up in memory here.
 */
export class AgentSession implements LiveSession {
  agentId = "";
  private tracker?: SeqTracker;
  private window?: SeqWindow;
  private closed = false;
  private helloPending = false;
  private outbox: ControllerMessage[] = [];
  private readonly maxOutbox = 10_000;

  constructor(
    private readonly call: Call,
    private readonly deps: SessionDeps,
  ) {
    call.on("data", (m: AgentMessage) => this.onMessage(m));
    call.on("end", () => this.finish(null));
    call.on("error", () => this.finish(null));
    call.on("cancelled", () => this.finish(null));
    call.on("drain", () => this.flush());
  }

  get peer(): string {
    return this.call.getPeer();
  }

  send(msg: ControllerMessage): void {
    if (this.closed) return;
    // Last line of defence: a message over the agent's receive limit would fail the whole stream
    // (RESOURCE_EXHAUSTED) and the agent would loop reconnecting; refuse it here instead. Acks,
    // welcomes and policy chunks (at most POLICY_CHUNK_BYTES of data) are small by construction.
    if ((msg.msg?.$case === "command" || msg.msg?.$case === "policy") && ControllerMessage.encode(msg).finish().length > MAX_MESSAGE_BYTES) {
      this.deps.log("error", "message to agent over the transport limit not sent", { agentId: this.agentId, kind: msg.msg?.$case, limit: MAX_MESSAGE_BYTES });
      return;
    }
    if (this.outbox.length) {
      if (this.outbox.length >= this.maxOutbox) return this.fail(GrpcStatus.RESOURCE_EXHAUSTED, "agent is not reading its stream");
      this.outbox.push(msg);
      return;
    }
    if (!this.call.write(msg)) this.call.pause();
  }

  private flush(): void {
    while (this.outbox.length && !this.closed) {
      if (!this.call.write(this.outbox.shift()!)) return;
    }
    this.call.resume();
  }

  close(reason: string): void {
    this.fail(GrpcStatus.ABORTED, reason);
  }

  /** A handler failed in a way it did not plan for: logged, and the stream ends retryably (nothing was acked). */
  private crashed(what: string, err: unknown): void {
    this.deps.log("error", `handling ${what} failed`, { agentId: this.agentId || undefined, peer: this.peer, error: String(err) });
    this.fail(GrpcStatus.INTERNAL, `controller error while handling ${what}; retry`);
  }

  private fail(code: GrpcStatus, details: string): void {
    if (this.closed) return;
    this.deps.log("warn", "agent stream closed", { agentId: this.agentId || undefined, peer: this.peer, code: GrpcStatus[code], reason: details });
    this.closed = true;
    const call = this.call;
    call.emit("error", grpcError(code, details));
    // grpc-js sends the status from the stream's _final, once writes already queued are flushed;
    // destroying the call before that drops the status and leaves the agent's stream open (a
    // revocation or certificate expiry that does not bite). Destroy once it is out, or after a grace.
    if (call.writableFinished) call.destroy();
    else {
      const grace = setTimeout(() => call.destroy(), CLOSE_GRACE_MS);
      grace.unref();
      call.once("finish", () => {
        clearTimeout(grace);
        call.destroy();
      });
    }
    this.release();
  }

  private finish(_err: unknown): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.call.end();
    } catch {
      // already ended by the peer
    }
    this.release();
  }

  private release(): void {
    if (this.agentId) this.deps.registry.disconnect(this.agentId, this);
  }

  private onMessage(m: AgentMessage | UndecodableMessage): void {
    if (this.closed) return;
    if ("undecodable" in m) {
      const details = `undecodable AgentMessage, nothing stored or acknowledged: ${m.undecodable}`;
      return this.tracker ? this.refuse("contract", 0, details) : this.fail(GrpcStatus.INVALID_ARGUMENT, details);
    }
    const body = m.msg;
    if (!this.tracker) {
      if (body?.$case !== "hello" || this.helloPending) return this.fail(GrpcStatus.FAILED_PRECONDITION, "the first message on a stream must be Hello");
      this.helloPending = true;
      this.call.pause();
      this.onHello(body.hello).catch((err: unknown) => this.crashed("Hello", err));
      return;
    }
    switch (body?.$case) {
      case "events":
        this.call.pause();
        this.onEvents(body.events).catch((err: unknown) => this.crashed("an event batch", err));
        return;
      case "heartbeat":
        this.deps.registry.health.clock(this.agentId, body.heartbeat.timeMs);
        this.deps.registry.touch(this.agentId, body.heartbeat.status ? statusJson(body.heartbeat.status) : undefined);
        return;
      case "result":
        this.deps.registry.touch(this.agentId);
        this.deps.onCommandResult?.(this.agentId, body.result);
        return;
      case "inventory":
        this.deps.registry.touch(this.agentId);
        this.deps.onInventory?.(this.agentId, body.inventory);
        return;
      case "hello":
        return this.fail(GrpcStatus.FAILED_PRECONDITION, "Hello sent twice on one stream");
      default:
        return this.fail(GrpcStatus.INVALID_ARGUMENT, "empty or unknown AgentMessage");
    }
  }

  private async onHello(hello: Hello): Promise<void> {
    try {
      const register = async () => {
        const id = await this.deps.authenticator.authenticate(this.call, hello);
        this.agentId = id.agentId;
        const connection = await this.deps.registry.connect(id.agentId, hello, id, this);
        // Distributed mode: batches acked but not yet written by a storage worker count as acked.
        const cursor = this.deps.writer.resumeCursor ? await this.deps.writer.resumeCursor(id.agentId, connection.cursor) : connection.cursor;
        return { id, connection, cursor };
      };
      const { id, connection, cursor } = this.deps.registrations ? await this.deps.registrations.run(register) : await register();
      const { window, claimRefused, cursorHealed } = connection;
      if (cursorHealed) {
        this.deps.log("warn", "agent cursor was past MAX_SEQ (poisoned); brought back to the highest stored seq", { agentId: id.agentId, ...cursorHealed });
        this.deps.onAnomaly?.(id.agentId, "seq_cursor_healed", cursorHealed);
      }
      this.tracker = new SeqTracker(cursor);
      this.window = window;
      if (claimRefused) this.anomaly("seq_claim_refused", claimRefused);
      this.send({
        msg: { $case: "welcome", welcome: { ackedSeq: cursor.ackedSeq, commandPublicKey: this.deps.commandPublicKey(), controllerVersion: this.deps.controllerVersion } },
      });
      this.deps.log("info", "agent connected", { agentId: id.agentId, hostname: hello.hostname, peer: this.peer, ackedSeq: cursor.ackedSeq });
      this.deps.onConnected?.(this);
      this.call.resume();
    } catch (err) {
      if (err instanceof AuthError) {
        const code = err.code === "permission_denied" ? GrpcStatus.PERMISSION_DENIED : err.code === "invalid_argument" ? GrpcStatus.INVALID_ARGUMENT : GrpcStatus.UNAUTHENTICATED;
        return this.fail(code, err.message);
      }
      if (err instanceof GateFull) return this.fail(GrpcStatus.UNAVAILABLE, "controller busy registering other agents; retry");
      this.deps.log("error", "agent registration failed", { error: String(err) });
      return this.fail(GrpcStatus.UNAVAILABLE, "controller could not register the agent; retry");
    }
  }

  private async onEvents(batch: EventBatch): Promise<void> {
    const tracker = this.tracker!;
    const receivedAt = Date.now();
    let sane;
    try {
      sane = sanitizeBatch(batch, receivedAt, this.deps.eventTimeToleranceMs);
    } catch (err) {
      if (err instanceof BatchRejected) return this.refuse("contract", batch.events.length, `batch rejected, nothing stored: ${err.message}`);
      throw err;
    }
    const { events, reportedTimes } = sane;
    if (sane.report.clipped > 0 || sane.report.redacted > 0) this.deps.onSanitized?.(sane.report);
    const seqs = events.map((e) => e.seq);
    // A seq the agent cannot have produced would move its cursor where its real events never reach.
    const beyond = this.window!.check(seqs, receivedAt, tracker.cursor.ackedSeq);
    if (beyond) {
      this.anomaly("seq_refused", beyond);
      return this.refuse("seq_window", events.length, `batch rejected, nothing stored or acknowledged: ${beyond.reason}`);
    }
    const next = tracker.preview(seqs);
    try {
      await this.deps.writer.submit(this.agentId, events, next, tracker.cursor.ackedSeq, { receivedAt, reportedTimes });
    } catch (err) {
      // Nothing was committed; the agent still holds these events and resends after reconnecting.
      this.deps.log("error", "storing a batch failed", { agentId: this.agentId, error: String(err) });
      return this.fail(GrpcStatus.UNAVAILABLE, "storage unavailable; events not acknowledged");
    }
    tracker.commit(next);
    this.deps.registry.touch(this.agentId);
    this.deps.registry.health.stored(this.agentId);
    this.send({ msg: { $case: "ack", ack: { seq: next.ackedSeq } } });
    if (!this.closed && !this.outbox.length) this.call.resume();
  }

  /** Refuses a batch: nothing stored or acked, counted, the agent flagged, and the stream ended with the reason. */
  private refuse(reason: "seq_window" | "contract", events: number, details: string): void {
    this.deps.writer.refused({ agentId: this.agentId, reason, events });
    this.deps.registry.health.refused(this.agentId, details);
    this.fail(GrpcStatus.INVALID_ARGUMENT, details);
  }

  private anomaly(kind: "seq_refused" | "seq_claim_refused", r: SeqRefusal): void {
    const details = { seq: r.seq, limit: r.limit, ackedSeq: this.tracker?.cursor.ackedSeq ?? 0, lastSeq: this.tracker?.cursor.lastSeq ?? 0, peer: this.peer, reason: r.reason };
    this.deps.log("warn", kind === "seq_refused" ? "agent sent a seq it cannot have produced; batch refused" : "agent claimed a last seq it cannot have produced; claim ignored", {
      agentId: this.agentId,
      ...details,
    });
    try {
      this.deps.onAnomaly?.(this.agentId, kind, details);
    } catch {
      // recording is best effort; the refusal itself already happened
    }
  }
}
