import { MAX_POLICY_BYTES, MAX_POLICY_IOCS, POLICY_CHUNK_BYTES, ControllerMessage, MAX_MESSAGE_BYTES } from "@vigil/proto";
import type { Ioc } from "@vigil/detection";
import { describe, expect, it } from "vitest";
import { policyMessages } from "../../src/policy/policy-delivery";
import { buildPolicyDocument, type PolicyIocSource } from "../../src/policy/policy-document";

/** A catalog served best first, as IocCatalog.bestFirst does, in pages. */
function source(iocs: Ioc[]): PolicyIocSource & { pagesRead: number } {
  const s = {
    pagesRead: 0,
    countLive: async () => iocs.length,
    async *bestFirst() {
      for (let i = 0; i < iocs.length; i += 5000) {
        s.pagesRead++;
        yield iocs.slice(i, i + 5000);
      }
    },
  };
  return s;
}

const spec = { rules: [], includeIocs: true, actions: [] };

describe("agent policy document", () => {
  it("long values: stops at the byte budget, keeps the best ones, counts the rest, never reads the whole catalog", async () => {
    // 250k domains of ~250 characters: ~64 MB as a list, far over what a policy may carry.
    const iocs: Ioc[] = Array.from({ length: 250_000 }, (_, i) => ({
      kind: "domain",
      value: `${"x".repeat(230)}-${String(i).padStart(7, "0")}.example.org`,
      confidence: 90 - Math.floor(i / 50_000),
      source: "long",
    }));
    const src = source(iocs);
    const doc = await buildPolicyDocument(3, spec, () => "", src);
    expect(doc.bytes.length).toBeLessThanOrEqual(MAX_POLICY_BYTES);
    expect(doc.bytes.length).toBeGreaterThan(MAX_POLICY_BYTES * 0.95);
    expect(doc.iocs).toMatchObject({ catalog: 250_000, limitedBy: "bytes" });
    expect(doc.iocs!.shipped + doc.iocs!.leftOut).toBe(250_000);
    expect(src.pagesRead).toBeLessThan(250_000 / 5000);
    const parsed = JSON.parse(doc.json) as { iocSets: Array<{ confidence: number; values: string[] }> };
    const shipped = parsed.iocSets.flatMap((s) => s.values);
    expect(shipped.length).toBe(doc.iocs!.shipped);
    expect(shipped[0]).toBe(iocs[0]!.value);
    expect(shipped.at(-1)).toBe(iocs[doc.iocs!.shipped - 1]!.value);

    // Delivered in chunks, none near the transport limit, signed once per agent.
    let signatures = 0;
    const msgs = policyMessages(doc, "a1", () => (signatures++, Buffer.alloc(64)), 1);
    expect(msgs.length).toBe(Math.ceil(doc.bytes.length / POLICY_CHUNK_BYTES));
    expect(signatures).toBe(1);
    for (const m of msgs) expect(ControllerMessage.encode(m).finish().length).toBeLessThan(MAX_MESSAGE_BYTES / 3);
  });

  it("many short values: stops at MAX_POLICY_IOCS; a catalog that fits ships whole in one message", async () => {
    const many: Ioc[] = Array.from({ length: MAX_POLICY_IOCS + 10 }, (_, i) => ({ kind: "ip", value: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, confidence: 50, source: "feed" }));
    const doc = await buildPolicyDocument(1, spec, () => "", source(many));
    expect(doc.iocs).toMatchObject({ shipped: MAX_POLICY_IOCS, leftOut: 10, limitedBy: "count" });

    const few = await buildPolicyDocument(1, spec, () => "", source(many.slice(0, 100)));
    expect(few.iocs).toMatchObject({ catalog: 100, shipped: 100, leftOut: 0, limitedBy: null });
    expect(JSON.parse(few.json).iocSets).toEqual([{ kind: "ip", confidence: 50, source: "feed", values: many.slice(0, 100).map((i) => i.value) }]);
    expect(policyMessages(few, "a1", () => Buffer.alloc(64), 1)[0]!.msg?.$case).toBe("policy");
  });
});
