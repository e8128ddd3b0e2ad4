import { credentials, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { AgentServiceClient, type AgentMessage, type ControllerMessage } from "@vigil/proto";

/**
 * A hand-driven agent stream over TLS: with or without a client certificate,
 * so tests can play an unenrolled, foreign or revoked agent.
 */
export class TlsAgent {
  readonly client: InstanceType<typeof AgentServiceClient>;
  readonly stream: ClientDuplexStream<AgentMessage, ControllerMessage>;
  readonly received: ControllerMessage[] = [];
  error?: ServiceError;
  ended = false;

  constructor(port: number, caPem: string, client?: { keyPem: string; certPem: string }, host = "127.0.0.1") {
    const creds = client ? credentials.createSsl(Buffer.from(caPem), Buffer.from(client.keyPem), Buffer.from(client.certPem)) : credentials.createSsl(Buffer.from(caPem));
    this.client = new AgentServiceClient(`${host}:${port}`, creds);
    this.stream = this.client.connect();
    this.stream.on("data", (m: ControllerMessage) => this.received.push(m));
    this.stream.on("error", (e: ServiceError) => (this.error = e));
    this.stream.on("end", () => (this.ended = true));
  }

  hello(agentId = "claimed-id"): void {
    this.stream.write({
      msg: { $case: "hello", hello: { agentId, hostname: "tls-host", os: "test", kernel: "", agentVersion: "test", ipAddresses: [], tags: ["self-tag"], bootTimeMs: 0, lastSeq: 0, arch: "" } },
    });
  }

  welcomed(): boolean {
    return this.received.some((m) => m.msg?.$case === "welcome");
  }

  close(): void {
    this.stream.cancel();
    this.client.close();
  }
}
