import { describe, expect, it } from "vitest";
import { AgentDirectory } from "../../src/detection/agent-directory";

/** A registry that counts its reads: one query per chunk of agents, not one per agent. */
function registry(known: Record<string, { hostname: string; tags: string[] }>) {
  const calls = { get: 0, labels: 0 };
  return {
    calls,
    onConnectionChange: () => undefined,
    get: (id: string) => {
      calls.get++;
      return Promise.resolve(known[id] ? ({ id, ...known[id] } as never) : null);
    },
    labels: (ids: readonly string[]) => {
      calls.labels++;
      return Promise.resolve(new Map(ids.filter((id) => known[id]).map((id) => [id, known[id]!])));
    },
  };
}

describe("AgentDirectory: detection's host names and tags", () => {
  it("fills its cache for a chunk's agents with one query per 500, then answers without reading", async () => {
    const known: Record<string, { hostname: string; tags: string[] }> = {};
    for (let i = 0; i < 1_200; i++) known[`a${i}`] = { hostname: `host-${i}`, tags: i % 2 ? ["prod"] : [] };
    const r = registry(known);
    const dir = new AgentDirectory(r);
    await dir.prefetch([...Object.keys(known), "gone", "a1"]);
    expect(r.calls.labels).toBe(3);
    expect(await dir.info("a1")).toEqual({ hostname: "host-1", tags: ["prod"] });
    expect(await dir.info("a1199")).toEqual({ hostname: "host-1199", tags: ["prod"] });
    expect(await dir.info("gone")).toEqual({ hostname: "", tags: [] });
    expect(r.calls.get).toBe(0);
    // Cached entries are not asked for again until they age out.
    await dir.prefetch(["a1", "a2"]);
    expect(r.calls.labels).toBe(3);
  });

  it("falls back to one read per agent when the batched read fails", async () => {
    const r = registry({ a: { hostname: "web", tags: [] } });
    r.labels = () => Promise.reject(new Error("pool timeout"));
    const dir = new AgentDirectory(r);
    await dir.prefetch(["a", "b"]);
    expect(await dir.info("a")).toEqual({ hostname: "web", tags: [] });
    expect(r.calls.get).toBe(1);
  });
});
