import { createHash, type Hash } from "node:crypto";
import { MAX_POLICY_BYTES, POLICY_CHUNK_BYTES, type PolicyChunk, type PolicyUpdate } from "@vigil/proto";

export type AssemblyStep = { kind: "pending" } | { kind: "complete"; update: PolicyUpdate } | { kind: "refused"; version: number; reason: string };

/**
 * Puts a chunked policy back together for one stream. Nothing is handed on until every chunk is
 * in, in order, within MAX_POLICY_BYTES, and the whole matches its SHA-256: until then the agent
 * keeps enforcing the policy it holds. The result is an ordinary PolicyUpdate, whose signature the
 * policy store checks as for one sent whole. A chunk of another version or digest starts over.
 */
export class PolicyAssembler {
  private cur?: { version: number; sha256: string; count: number; total: number; next: number; parts: Buffer[]; size: number; hash: Hash; chunk0: PolicyChunk };

  offer(c: PolicyChunk): AssemblyStep {
    const version = Number(c.version);
    const refuse = (reason: string): AssemblyStep => {
      this.cur = undefined;
      return { kind: "refused", version, reason: `chunked policy: ${reason}` };
    };
    if (!this.cur || this.cur.version !== version || this.cur.sha256 !== c.sha256) {
      if (c.index !== 0) return refuse(`chunk ${c.index} of version ${version} arrived without its first chunk`);
      const total = Number(c.totalBytes);
      if (!Number.isSafeInteger(total) || total <= 0 || total > MAX_POLICY_BYTES) return refuse(`${total} bytes announced; at most ${MAX_POLICY_BYTES} are accepted`);
      if (c.count !== Math.ceil(total / POLICY_CHUNK_BYTES)) return refuse(`${c.count} chunks announced for ${total} bytes`);
      if (!/^[0-9a-f]{64}$/.test(c.sha256)) return refuse("sha256 is not a hex digest");
      this.cur = { version, sha256: c.sha256, count: c.count, total, next: 0, parts: [], size: 0, hash: createHash("sha256"), chunk0: c };
    }
    const a = this.cur;
    if (c.index !== a.next || c.count !== a.count || Number(c.totalBytes) !== a.total) return refuse(`chunk ${c.index}/${c.count} out of order (expected ${a.next}/${a.count})`);
    if (c.data.length === 0 || c.data.length > POLICY_CHUNK_BYTES || a.size + c.data.length > a.total) return refuse(`chunk ${c.index} of ${c.data.length} bytes overruns the ${a.total} announced`);
    const data = Buffer.from(c.data);
    a.parts.push(data);
    a.hash.update(data);
    a.size += data.length;
    a.next++;
    if (a.next < a.count) return { kind: "pending" };
    this.cur = undefined;
    if (a.size !== a.total) return refuse(`${a.size} bytes received, ${a.total} announced`);
    if (a.hash.digest("hex") !== a.sha256) return refuse("the assembled policy does not match its sha256");
    const head = a.chunk0;
    return { kind: "complete", update: { version, policyJson: Buffer.concat(a.parts).toString("utf8"), signature: head.signature, issuedAtMs: head.issuedAtMs } };
  }
}
