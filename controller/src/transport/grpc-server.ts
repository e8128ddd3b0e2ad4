import { Server, ServerCredentials, type ServerDuplexStream, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { AgentServiceService, MAX_MESSAGE_BYTES, type AgentMessage, type ControllerMessage } from "@vigil/proto";
import { AgentSession, type SessionDeps, type UndecodableMessage } from "./agent-session";

/**
 * The service with a deserializer that does not throw: grpc-js answers a throw
 * with a bare INTERNAL "Error deserializing request"; the session instead says
 * what was wrong, counts it and flags the agent.
 */
const lenientAgentService: ServiceDefinition = {
  ...AgentServiceService,
  connect: {
    ...AgentServiceService.connect,
    requestDeserialize: (buf: Buffer): AgentMessage | UndecodableMessage => {
      try {
        return AgentServiceService.connect.requestDeserialize(buf);
      } catch (err) {
        return { msg: undefined, undecodable: (err instanceof Error ? err.message : String(err)).slice(0, 200) };
      }
    },
  },
};

/**
 * Owns the agent-facing gRPC server directly with grpc-js (not Nest's
 * microservice layer, which has lost messages under backpressure).
 */
export class AgentGrpcServer {
  private server?: Server;
  private sessions = new Set<AgentSession>();
  boundPort = 0;

  constructor(
    private readonly deps: SessionDeps,
    private readonly credentials: () => ServerCredentials = () => ServerCredentials.createInsecure(),
    /** More services on the same port (enrollment), registered before binding. */
    private readonly extraServices: Array<{ service: ServiceDefinition; implementation: UntypedServiceImplementation }> = [],
  ) {}

  async start(host: string, port: number): Promise<number> {
    const server = new Server({
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    });
    server.addService(lenientAgentService, {
      connect: (call: ServerDuplexStream<AgentMessage, ControllerMessage>) => {
        const s = new AgentSession(call, this.deps);
        this.sessions.add(s);
        call.on("close", () => this.sessions.delete(s));
        call.on("finish", () => this.sessions.delete(s));
      },
    });
    for (const x of this.extraServices) server.addService(x.service, x.implementation);
    const bindHost = host.includes(":") ? `[${host}]` : host;
    this.boundPort = await new Promise<number>((resolve, reject) => server.bindAsync(`${bindHost}:${port}`, this.credentials(), (err, p) => (err ? reject(err) : resolve(p))));
    this.server = server;
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sessions) s.close("controller shutting down");
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2_000);
      server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
