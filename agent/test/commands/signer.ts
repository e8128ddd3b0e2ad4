/** A stand-in controller signing key for tests: signs Commands exactly as the controller must. */
import { type KeyObject, generateKeyPairSync, sign } from "node:crypto";
import { type Command, type CommandType, canonicalParamsJson, commandSigningPayload, toWireCommand, validateCommandParams } from "@vigil/proto";

export interface TestSigner {
  /** Raw 32-byte public key, as Welcome.command_public_key carries it. */
  publicKeyRaw: Buffer;
  command(fields: Partial<Omit<Command, "signature">> & { type: string; agentId: string }): Command;
  /** As the controller issues one today: validated, canonical params signed, typed oneof plus the legacy fields. */
  typedCommand(fields: { agentId: string; type: CommandType; params: Record<string, unknown>; id?: string }): Command;
}

let n = 0;

export function testSigner(): TestSigner {
  const { publicKey, privateKey }: { publicKey: KeyObject; privateKey: KeyObject } = generateKeyPairSync("ed25519");
  const spki = publicKey.export({ format: "der", type: "spki" });
  return {
    publicKeyRaw: Buffer.from(spki.subarray(spki.length - 32)),
    command(f) {
      const now = Date.now();
      const unsigned = {
        id: f.id ?? `cmd-${process.pid}-${++n}`,
        agentId: f.agentId,
        type: f.type,
        paramsJson: f.paramsJson ?? "{}",
        issuedAtMs: f.issuedAtMs ?? now,
        expiresAtMs: f.expiresAtMs ?? now + 60_000,
      };
      return { ...unsigned, signature: sign(null, commandSigningPayload(unsigned), privateKey) };
    },
    typedCommand(f) {
      const now = Date.now();
      const paramsJson = canonicalParamsJson(f.type, validateCommandParams(f.type, f.params));
      const unsigned = { id: f.id ?? `cmd-${process.pid}-${++n}`, agentId: f.agentId, type: f.type, paramsJson, issuedAtMs: now, expiresAtMs: now + 60_000 };
      return toWireCommand(unsigned, sign(null, commandSigningPayload(unsigned), privateKey));
    },
  };
}
