import { hostname } from "node:os";
import { newKeyRequest } from "../../../agent/src/enroll/key-request";
import { enrollRpc } from "../../../agent/src/enroll/enroll-client";
import type { TestController } from "../support/controller";

export interface EnrolledAgent {
  agentId: string;
  keyPem: string;
  certPem: string;
  notAfterMs: number;
}

/** A token from the controller's own store (what `token create` does). */
export async function createToken(ctl: TestController, spec: Partial<{ ttlMs: number; uses: number; tags: string[] }> = {}): Promise<string> {
  const { token } = await ctl.security.trust.tokens.create({ ttlMs: spec.ttlMs ?? 3_600_000, uses: spec.uses ?? 1, tags: spec.tags ?? [], createdBy: "test" });
  return token;
}

/** Enrolls the way the agent does (key pair, CSR, Enroll RPC over TLS pinned to the CA). */
export async function enrollAgent(ctl: TestController, token: string): Promise<EnrolledAgent> {
  const { keyPem, csrDer } = await newKeyRequest(hostname());
  const c = await enrollRpc(`127.0.0.1:${ctl.grpcPort}`, ctl.security.trust.ca.certPem, { token, csrDer, hostname: "test-host" });
  return { agentId: c.agentId, keyPem, certPem: c.certificatePem, notAfterMs: c.notAfterMs };
}
