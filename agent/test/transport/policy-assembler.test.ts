import { createHash } from "node:crypto";
import { MAX_POLICY_BYTES, POLICY_CHUNK_BYTES, type PolicyChunk } from "@vigil/proto";
import { describe, expect, it } from "vitest";
import { PolicyAssembler } from "../../src/transport/policy-assembler";

function chunks(json: string, version = 7): PolicyChunk[] {
  const bytes = Buffer.from(json, "utf8");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const count = Math.ceil(bytes.length / POLICY_CHUNK_BYTES);
  return Array.from({ length: count }, (_, index) => ({
    version,
    issuedAtMs: 1234,
    signature: Buffer.alloc(64, 1),
    sha256,
    totalBytes: bytes.length,
    index,
    count,
    data: bytes.subarray(index * POLICY_CHUNK_BYTES, (index + 1) * POLICY_CHUNK_BYTES),
  }));
}

const big = (n: number) => JSON.stringify({ version: 7, pad: "é".repeat(n) });

describe("chunked policy assembly", () => {
  it("hands on the whole policy only after the last chunk, byte for byte (multi-byte UTF-8 split across chunks)", () => {
    const json = big(1_600_000); // 3.2 MB of two-byte characters: chunk borders fall inside characters
    const parts = chunks(json);
    expect(parts.length).toBe(4);
    const a = new PolicyAssembler();
    for (const c of parts.slice(0, -1)) expect(a.offer(c).kind).toBe("pending");
    const done = a.offer(parts.at(-1)!);
    expect(done.kind).toBe("complete");
    if (done.kind !== "complete") return;
    expect(done.update.policyJson).toBe(json);
    expect(done.update).toMatchObject({ version: 7, issuedAtMs: 1234 });
    expect(Buffer.from(done.update.signature)).toEqual(Buffer.alloc(64, 1));
  });

  it("refuses a tampered chunk (sha256), a gap, a chunk without its start, and more than MAX_POLICY_BYTES", () => {
    const parts = chunks(big(1_600_000));
    const a = new PolicyAssembler();
    const tampered = parts.map((c, i) => (i === 1 ? { ...c, data: Buffer.from(c.data).fill(0x20, 0, 10) } : c));
    let last;
    for (const c of tampered) last = a.offer(c);
    expect(last).toMatchObject({ kind: "refused", reason: expect.stringMatching(/does not match its sha256/) });

    expect(a.offer(parts[0]!).kind).toBe("pending");
    expect(a.offer(parts[2]!)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/out of order/) });
    expect(new PolicyAssembler().offer(parts[1]!)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/without its first chunk/) });

    const huge = { ...parts[0]!, totalBytes: MAX_POLICY_BYTES + 1, count: Math.ceil((MAX_POLICY_BYTES + 1) / POLICY_CHUNK_BYTES) };
    expect(new PolicyAssembler().offer(huge)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/at most/) });
    const overrun = { ...parts[0]!, data: Buffer.alloc(POLICY_CHUNK_BYTES + 1) };
    expect(new PolicyAssembler().offer(overrun)).toMatchObject({ kind: "refused", reason: expect.stringMatching(/overruns/) });
  });

  it("a new version mid-assembly starts over; the abandoned one is never handed on", () => {
    const old = chunks(big(1_000_000), 7);
    const next = chunks(big(900_000), 8);
    const a = new PolicyAssembler();
    expect(a.offer(old[0]!).kind).toBe("pending");
    const steps = next.map((c) => a.offer(c));
    expect(steps.at(-1)).toMatchObject({ kind: "complete", update: { version: 8 } });
    expect(a.offer(old[1]!)).toMatchObject({ kind: "refused" });
  });
});
