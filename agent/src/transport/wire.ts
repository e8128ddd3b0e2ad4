import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { AgentMessage } from "@vigil/proto";

/**
 * AgentMessage{events: EventBatch{first_seq, events}} built from payloads that
 * are already encoded Events (as the spool stores them), so replaying a
 * backlog does not decode and re-encode every event.
 */
export function encodeEventBatchMessage(firstSeq: number, payloads: Uint8Array[]): Buffer {
  const batch = new BinaryWriter();
  batch.uint32(8).uint64(firstSeq);
  for (const p of payloads) batch.uint32(18).bytes(p);
  const inner = batch.finish();
  const outer = new BinaryWriter();
  outer.uint32(18).bytes(inner);
  return Buffer.from(outer.finish());
}

/** Serializer for the client stream: pre-encoded buffers pass through, messages are encoded. */
export function serializeAgentMessage(value: AgentMessage | Buffer): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(AgentMessage.encode(value).finish());
}
