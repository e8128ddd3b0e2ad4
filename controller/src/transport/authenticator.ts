import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { AgentMessage, ControllerMessage, Hello } from "@vigil/proto";

export class AuthError extends Error {
  constructor(message: string, readonly code: "unauthenticated" | "permission_denied" | "invalid_argument") {
    super(message);
  }
}

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * Decides which agent a stream belongs to. The mTLS implementation takes the id
 * from the client certificate; the development one trusts Hello.agent_id.
 */
export interface AgentAuthenticator {
  authenticate(call: ServerDuplexStream<AgentMessage, ControllerMessage>, hello: Hello): Promise<{ agentId: string; tags: string[] }>;
}

export function validateAgentId(id: string): string {
  if (!AGENT_ID.test(id)) throw new AuthError(`agent id "${id.slice(0, 64)}" is not valid (1-128 of [A-Za-z0-9._:-])`, "invalid_argument");
  return id;
}

/** For local development and tests without enrollment: trusts the id in Hello. */
export class HelloAuthenticator implements AgentAuthenticator {
  async authenticate(_call: ServerDuplexStream<AgentMessage, ControllerMessage>, hello: Hello): Promise<{ agentId: string; tags: string[] }> {
    return { agentId: validateAgentId(hello.agentId), tags: hello.tags.slice(0, 32).map((t) => t.slice(0, 64)) };
  }
}
