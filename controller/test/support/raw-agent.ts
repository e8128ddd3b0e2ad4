import { type Client, credentials, makeGenericClientConstructor, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { AgentMessage, AgentServiceService, type ControllerMessage, Event, Hello } from "@vigil/proto";

type RawStream = ClientDuplexStream<Buffer, ControllerMessage>;

/** What a test gives for one event: any part of it, nested messages partial too (Event.fromPartial fills the rest). */
export type EventInit = Parameters<typeof Event.fromPartial>[0];

const RawCtor = makeGenericClientConstructor({ connect: { ...AgentServiceService.connect, requestSerialize: (b: Buffer) => b } }, "vigil.v1.AgentService") as unknown as new (
  addr: string,
  creds: ReturnType<typeof credentials.createInsecure>,
  opts?: object,
) => Client & { connect(): RawStream };

/**
 * A hand-driven agent stream that can send arbitrary bytes: how the tests play
 * a buggy or hostile agent without the real agent's guarantees.
 */
export class RawAgent {
  readonly client: Client & { connect(): RawStream };
  readonly stream: RawStream;
  readonly received: ControllerMessage[] = [];
  error?: ServiceError;
  ended = false;

  constructor(port: number, opts: object = {}) {
    this.client = new RawCtor(`127.0.0.1:${port}`, credentials.createInsecure(), { "grpc.max_send_message_length": 64 * 1024 * 1024, ...opts });
    this.stream = this.client.connect();
    this.stream.on("data", (m: ControllerMessage) => this.received.push(m));
    this.stream.on("error", (e: ServiceError) => (this.error = e));
    this.stream.on("end", () => (this.ended = true));
  }

  sendRaw(bytes: Buffer): void {
    this.stream.write(bytes);
  }

  send(msg: AgentMessage): void {
    // fromPartial: a status written before newer AgentStatus fields (maps) existed still encodes.
    this.stream.write(Buffer.from(AgentMessage.encode(AgentMessage.fromPartial(msg)).finish()));
  }

  hello(agentId: string, extra: Parameters<typeof Hello.fromPartial>[0] = {}): void {
    this.send({
      msg: {
        $case: "hello",
        hello: Hello.fromPartial({ agentId, hostname: `host-${agentId}`, os: "test", kernel: "", agentVersion: "test", ipAddresses: [], tags: [], bootTimeMs: 0, lastSeq: 0, arch: "", ...extra }),
      },
    });
  }

  events(firstSeq: number, count: number, make: (seq: number) => EventInit = () => ({})): void {
    const events = Array.from({ length: count }, (_, i) =>
      Event.fromPartial({ seq: firstSeq + i, eventTimeMs: Date.now(), body: { $case: "agent", agent: { kind: "test", message: `event ${firstSeq + i}`, attributes: {} } }, ...make(firstSeq + i) }),
    );
    this.send({ msg: { $case: "events", events: { firstSeq, events } } });
  }

  lastAck(): number {
    const acks = this.received.filter((m) => m.msg?.$case === "ack");
    const m = acks.at(-1)?.msg;
    return m?.$case === "ack" ? m.ack.seq : 0;
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}
