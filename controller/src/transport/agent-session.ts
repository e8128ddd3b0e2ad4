import { status as GrpcStatus, type ServerDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { ControllerMessage, MAX_MESSAGE_BYTES, type AgentMessage, type CommandResult, type EventBatch, type Hello } from "@vigil/proto";
import type { AgentRegistry, LiveSession } from "../agents/agent-registry";
import { statusJson } from "../agents/agent-registry";
import type { IngestWriter } from "../ingest/ingest-writer";
import { BatchRejected, sanitizeBatch } from "../ingest/sanitize";
import { SeqTracker } from "../ingest/seq-tracker";
import { AuthError, type AgentAuthenticator } from "./authenticator";

export interface SessionDeps {
  registry: AgentRegistry;
  writer: IngestWriter;
  authenticator: AgentAuthenticator;
  commandPublicKey: () => Buffer;
  onCommandResult?: (agentId: string, result: CommandResult) => void;
  onConnected?: (session: AgentSession) => void;
  log: (level: "info" | "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
  controllerVersion: string;
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
  private closed = false;
  private helloPending = false;
  private outbox: ControllerMessage[] = [];
  private readonly maxOutbox = 10_000;

  constructor(private readonly call: Call, private readonly deps: SessionDeps) {
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

  private fail(code: GrpcStatus, details: string): void {
    if (this.closed) return;
    this.deps.log("warn", "agent stream closed", { agentId: this.agentId || undefined, peer: this.peer, code: GrpcStatus[code], reason: details });
    this.closed = true;
    this.call.emit("error", grpcError(code, details));
    this.call.destroy();
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

  private onMessage(m: AgentMessage): void {
    if (this.closed) return;
    const body = m.msg;
    if (!this.tracker) {
      if (body?.$case !== "hello" || this.helloPending) return this.fail(GrpcStatus.FAILED_PRECONDITION, "the first message on a stream must be Hello");
      this.helloPending = true;
      this.call.pause();
      void this.onHello(body.hello);
      return;
    }
    switch (body?.$case) {
      case "events":
        this.call.pause();
        void this.onEvents(body.events);
        return;
      case "heartbeat":
        this.deps.registry.touch(this.agentId, body.heartbeat.status ? statusJson(body.heartbeat.status) : undefined);
        return;
      case "result":
        this.deps.registry.touch(this.agentId);
        this.deps.onCommandResult?.(this.agentId, body.result);
        return;
      case "hello":
        return this.fail(GrpcStatus.FAILED_PRECONDITION, "Hello sent twice on one stream");
      default:
        return this.fail(GrpcStatus.INVALID_ARGUMENT, "empty or unknown AgentMessage");
    }
  }

  private async onHello(hello: Hello): Promise<void> {
    try {
      const id = await this.deps.authenticator.authenticate(this.call, hello);
      this.agentId = id.agentId;
      const cursor = await this.deps.registry.connect(id.agentId, hello, id.tags, this);
      this.tracker = new SeqTracker(cursor);
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
      this.deps.log("error", "agent registration failed", { error: String(err) });
      return this.fail(GrpcStatus.UNAVAILABLE, "controller could not register the agent; retry");
    }
  }

  private async onEvents(batch: EventBatch): Promise<void> {
    const tracker = this.tracker!;
    let events;
    try {
      events = sanitizeBatch(batch, Date.now()).events;
    } catch (err) {
      if (err instanceof BatchRejected) return this.fail(GrpcStatus.INVALID_ARGUMENT, `batch rejected, nothing stored: ${err.message}`);
      throw err;
    }
    const next = tracker.preview(events.map((e) => e.seq));
    try {
      await this.deps.writer.submit(this.agentId, events, next, tracker.cursor.ackedSeq);
    } catch (err) {
      // Nothing was committed; the agent still holds these events and resends after reconnecting.
      this.deps.log("error", "storing a batch failed", { agentId: this.agentId, error: String(err) });
      return this.fail(GrpcStatus.UNAVAILABLE, "storage unavailable; events not acknowledged");
    }
    tracker.commit(next);
    this.deps.registry.touch(this.agentId);
    this.send({ msg: { $case: "ack", ack: { seq: next.ackedSeq } } });
    if (!this.closed && !this.outbox.length) this.call.resume();
  }
}
