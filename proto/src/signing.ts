import { createHash } from "node:crypto";
import type { Command, PolicyUpdate } from "./gen/vigil/v1/agent";

/**
 * The exact bytes a command signature covers. Both ends build it from the same
 * fields in the same order so neither side depends on protobuf encoding stability.
 */
export function commandSigningPayload(cmd: Pick<Command, "id" | "agentId" | "type" | "paramsJson" | "issuedAtMs" | "expiresAtMs">): Buffer {
  return Buffer.from(JSON.stringify(["vigil.command.v1", cmd.id, cmd.agentId, cmd.type, cmd.paramsJson, cmd.issuedAtMs, cmd.expiresAtMs]), "utf8");
}

/** Hex SHA-256 of a policy_json as UTF-8: what a policy signature and a PolicyChunk name. */
export function policyDigest(policyJson: string | Uint8Array): string {
  return createHash("sha256").update(policyJson).digest("hex");
}

/**
 * A policy signature covers the digest of policy_json, not its text, so one multi-megabyte
 * document is hashed once and then signed cheaply for each agent (the agent id binds it to one).
 */
export function policySigningPayload(p: Pick<PolicyUpdate, "version" | "policyJson" | "issuedAtMs">, agentId: string, digest = policyDigest(p.policyJson)): Buffer {
  return Buffer.from(JSON.stringify(["vigil.policy.v2", agentId, p.version, digest, p.issuedAtMs]), "utf8");
}
