import { credentials, Metadata, Server, ServerCredentials, status, type ServerDuplexStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentServiceClient, AgentServiceService, type AgentMessage, type ControllerMessage } from "../src";
import { classifyTransportError, FatalTransportError } from "../src/transport-outcome";

/** A real gRPC server on loopback that ends every stream with the status the agent id asks for. */
let server: Server;
let port = 0;

beforeAll(async () => {
  server = new Server();
  server.addService(AgentServiceService, {
    connect: (call: ServerDuplexStream<AgentMessage, ControllerMessage>) => {
      call.on("data", (m: AgentMessage) => {
        if (m.msg?.$case !== "hello") return;
        const [code, details] = m.msg.hello.agentId.split("|") as [string, string];
        call.emit("error", { code: Number(code), details, metadata: new Metadata() });
      });
      call.on("error", () => undefined);
    },
  });
  port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
});

afterAll(() => server.forceShutdown());

function endWith(code: number, details: string, target = `127.0.0.1:${port}`): Promise<unknown> {
  const client = new AgentServiceClient(target, credentials.createInsecure());
  return new Promise((resolve) => {
    const call = client.connect();
    call.on("error", (e) => {
      client.close();
      resolve(e);
    });
    call.on("data", () => undefined);
    call.write({
      msg: { $case: "hello", hello: { agentId: `${code}|${details}`, hostname: "h", os: "", kernel: "", agentVersion: "", ipAddresses: [], tags: [], bootTimeMs: 0, lastSeq: 0, arch: "", timeMs: 0 } },
    });
  });
}

describe("transport outcomes from real gRPC statuses", () => {
  it("refusals of this agent are fatal; a controller momentarily unable is retryable", async () => {
    expect(classifyTransportError(await endWith(status.PERMISSION_DENIED, "agent a1 has been revoked"))).toMatchObject({ kind: "fatal", reason: "PERMISSION_DENIED: agent a1 has been revoked" });
    expect(classifyTransportError(await endWith(status.UNAUTHENTICATED, "no client certificate"))).toMatchObject({ kind: "fatal" });
    // The controller closes a revoked agent's open stream with ABORTED; the details say why.
    expect(classifyTransportError(await endWith(status.ABORTED, "agent revoked"))).toMatchObject({ kind: "fatal" });
    expect(classifyTransportError(await endWith(status.ABORTED, "controller shutting down"))).toMatchObject({ kind: "retryable" });
    // An expired certificate's stream is closed so the agent returns on the one it renewed: retried, not a fatal wait.
    expect(classifyTransportError(await endWith(status.ABORTED, "client certificate expired; reconnect with the renewed certificate"))).toMatchObject({ kind: "retryable" });
    expect(classifyTransportError(await endWith(status.RESOURCE_EXHAUSTED, "ingest queue full"))).toMatchObject({ kind: "retryable" });
    expect(classifyTransportError(await endWith(status.UNAVAILABLE, "controller could not register the agent; retry"))).toMatchObject({ kind: "retryable" });
    expect(classifyTransportError(await endWith(status.DEADLINE_EXCEEDED, "slow"))).toMatchObject({ kind: "retryable" });
  });

  it("nothing listening is retryable (UNAVAILABLE from the client side)", async () => {
    const probe = new Server();
    const free = await new Promise<number>((resolve, reject) => probe.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    probe.forceShutdown();
    const err = await endWith(0, "", `127.0.0.1:${free}`);
    expect((err as { code: number }).code).toBe(status.UNAVAILABLE);
    expect(classifyTransportError(err).kind).toBe("retryable");
  });

  it("the agent's own refusals and plain errors", () => {
    expect(classifyTransportError(new FatalTransportError("pinned key mismatch"))).toEqual({ kind: "fatal", reason: "pinned key mismatch" });
    expect(classifyTransportError(new Error("controller closed the stream"))).toMatchObject({ kind: "retryable" });
    expect(classifyTransportError(undefined)).toEqual({ kind: "ok" });
    expect(classifyTransportError({ code: status.OK })).toEqual({ kind: "ok" });
    expect(classifyTransportError({ code: status.UNAVAILABLE, details: "x".repeat(10_000) })).toMatchObject({ kind: "retryable" });
    expect((classifyTransportError({ code: status.UNAVAILABLE, details: "x".repeat(10_000) }) as { reason: string }).reason.length).toBeLessThan(400);
  });
});
