import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { AgentMessage, ControllerMessage, Hello } from "@vigil/proto";

export class AuthError extends Error {
  constructor(
    message: string,
    readonly code: "unauthenticated" | "permission_denied" | "invalid_argument",
  ) {
    super(message);
  }
}

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/**
 * Who a stream is, and which tags say so. `tags` are the ones guard rails and
 * playbook targeting read: they must come from the controller's side (the
 * enrollment token, the admin). `selfReportedTags` are what the agent's Hello
 * claims: stored and shown, never trusted.
 */
export interface AgentIdentity {
  agentId: string;
  tags: string[];
  selfReportedTags: string[];
  /** When the agent was enrolled (its certificate issued), if known: a fresh agent's seqs count from there. */
  enrolledAtMs?: number;
}

/**
 * Decides which agent a stream belongs to. The mTLS implementation takes the id
 * from the client certificate; the development one trusts Hello.agent_id.
 */
export interface AgentAuthenticator {
  authenticate(call: ServerDuplexStream<AgentMessage, ControllerMessage>, hello: Hello): Promise<AgentIdentity>;
}

const TAG = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** The tags a Hello claims, bounded (32 of at most 64 characters) and of the token tag alphabet. */
export function helloTags(hello: Hello): string[] {
  return [...new Set(hello.tags.filter((t) => TAG.test(t)))].slice(0, 32);
}

export function validateAgentId(id: string): string {
  if (!AGENT_ID.test(id)) throw new AuthError(`agent id "${id.slice(0, 64)}" is not valid (1-128 of [A-Za-z0-9._:-])`, "invalid_argument");
  return id;
}

/**
 * For local development and tests without enrollment: trusts the id in Hello,
 * and so its tags too (whoever can claim any agent id can claim any tag; the
 * production mode, mTLS, trusts only the enrollment token's tags).
 */
export class HelloAuthenticator implements AgentAuthenticator {
  async authenticate(_call: ServerDuplexStream<AgentMessage, ControllerMessage>, hello: Hello): Promise<AgentIdentity> {
    const tags = helloTags(hello);
    return { agentId: validateAgentId(hello.agentId), tags, selfReportedTags: tags };
  }
}
