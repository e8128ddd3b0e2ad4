import { POLICY_CHUNK_BYTES, policySigningPayload, type ControllerMessage } from "@vigil/proto";
import type { BuiltPolicy } from "./policy-document";

/**
 * The messages that carry one signed policy to one agent: a single PolicyUpdate when it is small,
 * else PolicyChunks of at most POLICY_CHUNK_BYTES, so no message comes near the transport's limit
 * whatever the policy's size. Chunks share the document's bytes; only the signature is per agent.
 */
export function policyMessages(doc: BuiltPolicy, agentId: string, sign: (payload: Buffer) => Buffer, issuedAtMs: number): ControllerMessage[] {
  const unsigned = { version: doc.version, policyJson: doc.json, issuedAtMs };
  const signature = sign(policySigningPayload(unsigned, agentId, doc.digest));
  if (doc.bytes.length <= POLICY_CHUNK_BYTES) return [{ msg: { $case: "policy", policy: { ...unsigned, signature } } }];
  const count = Math.ceil(doc.bytes.length / POLICY_CHUNK_BYTES);
  return Array.from({ length: count }, (_, index) => ({
    msg: {
      $case: "policyChunk" as const,
      policyChunk: {
        version: doc.version,
        issuedAtMs,
        signature,
        sha256: doc.digest,
        totalBytes: doc.bytes.length,
        index,
        count,
        data: doc.bytes.subarray(index * POLICY_CHUNK_BYTES, (index + 1) * POLICY_CHUNK_BYTES),
      },
    },
  }));
}
