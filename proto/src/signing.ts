import type { Command, PolicyUpdate } from "./gen/vigil/v1/agent";

/**
 * The exact bytes a command signature covers. Both ends build it from the same
 * fields in the same order so neither side depends on protobuf encoding stability.
 */
export function commandSigningPayload(cmd: Pick<Command, "id" | "agentId" | "type" | "paramsJson" | "issuedAtMs" | "expiresAtMs">): Buffer {
  return Buffer.from(
    JSON.stringify(["vigil.command.v1", cmd.id, cmd.agentId, cmd.type, cmd.paramsJson, cmd.issuedAtMs, cmd.expiresAtMs]),
    "utf8",
  );
}

export function policySigningPayload(p: Pick<PolicyUpdate, "version" | "policyJson" | "issuedAtMs">, agentId: string): Buffer {
  return Buffer.from(JSON.stringify(["vigil.policy.v1", agentId, p.version, p.policyJson, p.issuedAtMs]), "utf8");
}
