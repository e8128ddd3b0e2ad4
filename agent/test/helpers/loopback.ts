import { Server, ServerCredentials, type ServerDuplexStream } from "@grpc/grpc-js";
import { AgentServiceService, type AgentMessage, type ControllerMessage } from "@vigil/proto";

/**
 * A real gRPC AgentService on 127.0.0.1 (port 0) whose stream handler the test writes: the
 * controller side of transport tests, speaking the real wire contract.
 */
export async function serveAgentStreams(onStream: (call: ServerDuplexStream<AgentMessage, ControllerMessage>) => void): Promise<{ port: number; stop: () => void }> {
  const server = new Server();
  server.addService(AgentServiceService, {
    connect: (call: ServerDuplexStream<AgentMessage, ControllerMessage>) => {
      call.on("error", () => undefined);
      onStream(call);
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, stop: () => server.forceShutdown() };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = await serveAgentStreams(() => undefined);
  s.stop();
  return s.port;
}

/** Polls `check` until it returns a value (not undefined/false), or fails naming what it waited for. */
export async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 15_000, detail: () => string = () => ""): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      const more = detail();
      throw new Error(`timed out waiting for ${what}${more ? `\n${more}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
