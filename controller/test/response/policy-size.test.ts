import { MAX_MESSAGE_BYTES, MAX_POLICY_BYTES, MAX_POLICY_IOCS, ControllerMessage, Direction, Event, NetworkAction } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalEvaluator, PolicyStore } from "../../../agent/src/policy";
import type { AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { readStatusFile, startSyntheticAgent, waitForAgentId } from "../support/synthetic-agent";
import { waitFor } from "../support/wait";

const IOC_RULE = "9c64d431-8b6e-4a8b-b9ad-830ebdd15e24"; // detection/rules/vigil_ioc_hit.yml
const HOT_IP = "203.0.113.77";
const HOT_HASH = "ab".repeat(32);

/** ~650k indicators as a feed writes them: 600k addresses, 30k hashes, 20k domains, one per line (~11 MB). */
function bulkFeed(): string {
  const lines: string[] = ["# generated bulk feed"];
  for (let i = 0; i < 600_000; i++) lines.push(`${10 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.${(i * 7 + 1) & 255}`);
  for (let i = 0; i < 30_000; i++) lines.push(`cd${i.toString(16).padStart(62, "0")}`);
  for (let i = 0; i < 20_000; i++) lines.push(`bulk-${i}.example.net`);
  return lines.join("\n");
}

async function importText(ctl: TestController, text: string, query: string, type = "text/plain") {
  const res = await fetch(`${ctl.httpUrl}/api/v1/iocs/import?${query}`, { method: "POST", headers: { authorization: `Bearer ${ctl.adminKey}`, "content-type": type }, body: text });
  return { status: res.status, body: (await res.json()) as { imported: number; errors: unknown[] } };
}

describe("a 650k-IOC catalog in the agent policy (issue 10, class 7)", () => {
  let ctl: TestController;
  let agent: AgentProcess | undefined;
  let raw: RawAgent | undefined;
  beforeAll(async () => {
    ctl = await startTestController({ env: { VIGIL_AGENT_OFFLINE_AFTER_MS: "3000" } });
  });
  afterAll(async () => {
    raw?.close();
    await agent?.stop();
    await ctl?.dispose();
  });

  it("agents stay online and connected, receive the policy in chunks under the message limit, and match its IOCs", { timeout: 240_000 }, async () => {
    const bulk = await importText(ctl, bulkFeed(), "source=bulk&format=list");
    expect(bulk.status, JSON.stringify(bulk.body).slice(0, 300)).toBe(201);
    expect(bulk.body.imported).toBe(650_000);
    // A small, sure feed imported later: best first means it ships whatever else is left out.
    const hot = await importText(ctl, `type,value,confidence\nip,${HOT_IP},95\nsha256,${HOT_HASH},95\n`, "source=hot", "text/csv");
    expect(hot.body.imported).toBe(2);

    agent = startSyntheticAgent({ controller: `127.0.0.1:${ctl.grpcPort}`, rate: 20, count: 1_000_000 });
    const agentId = await waitForAgentId(agent.stateDir, agent);
    const session = await waitFor("the agent connected", () => ctl.registry.session(agentId), 20_000);
    // A bare stream with grpc-js's default 4 MiB receive limit, as any agent has.
    raw = new RawAgent(ctl.grpcPort);
    raw.hello("raw-agent");
    await waitFor("raw agent welcomed", () => raw!.received.length > 0);

    const put = await fetch(`${ctl.httpUrl}/api/v1/agent-policy`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ctl.adminKey}`, "content-type": "application/json" },
      body: JSON.stringify({ rules: [{ id: IOC_RULE }], includeIocs: true, actions: [] }),
    });
    expect(put.status).toBe(200);

    const got = (await ctl.get("/api/v1/agent-policy")).body;
    expect(got.delivery.bytes).toBeLessThanOrEqual(MAX_POLICY_BYTES);
    expect(got.delivery.messages).toBeGreaterThan(1);
    expect(got.delivery.iocs).toMatchObject({ catalog: 650_002, shipped: MAX_POLICY_IOCS, leftOut: 650_002 - MAX_POLICY_IOCS, limitedBy: "count" });
    const metrics = (await ctl.get("/metrics")).body as string;
    expect(metrics).toContain(`vigil_agent_policy_iocs{state="left_out"} ${650_002 - MAX_POLICY_IOCS}`);
    console.log(`policy: ${got.delivery.bytes} bytes in ${got.delivery.messages} messages; IOCs ${JSON.stringify(got.delivery.iocs)}`);

    // The real agent assembles, verifies and applies it, on the stream it already had.
    const applied = await waitFor(
      "policy_applied from the agent",
      async () => {
        const evs = (await ctl.get(`/api/v1/events?type=agent&agent=${agentId}&limit=500`)).body.items as Array<{ agent: { kind: string; attributes: Record<string, string> } }>;
        return evs.find((e) => e.agent.kind === "policy_applied" || e.agent.kind === "policy_refused");
      },
      120_000,
    );
    expect(applied.agent).toMatchObject({ kind: "policy_applied", attributes: { version: "1", iocs: String(MAX_POLICY_IOCS), errors: "0" } });
    expect(ctl.registry.session(agentId)).toBe(session);
    expect((await ctl.get(`/api/v1/agents/${agentId}`)).body.online).toBe(true);

    // The bare stream got every chunk, each within the limit, and was never cut.
    await waitFor("all chunks on the raw stream", () => raw!.received.filter((m) => m.msg?.$case === "policyChunk").length === got.delivery.messages, 60_000);
    expect(raw.error).toBeUndefined();
    for (const m of raw.received) expect(ControllerMessage.encode(m).finish().length).toBeLessThan(MAX_MESSAGE_BYTES);

    // What the agent persisted verifies against the controller's key and matches the feed's indicators.
    const doc = new PolicyStore(agent.stateDir, agentId).load(ctl.signer.publicKeyRaw)!;
    const evaluator = new LocalEvaluator(doc, () => ({ agentId, hostname: "h" }));
    expect(evaluator.summary).toMatchObject({ version: 1, rules: 1, iocs: MAX_POLICY_IOCS, errors: [] });
    const conn = (ip: string) =>
      Event.fromPartial({
        seq: 1,
        eventTimeMs: Date.now(),
        body: { $case: "network", network: { action: NetworkAction.NETWORK_ACTION_OPEN, protocol: "tcp", remoteAddress: ip, remotePort: 443, direction: Direction.DIRECTION_OUTBOUND, pid: 1 } },
      });
    expect(evaluator.evaluate(conn(HOT_IP)).map((h) => h.ruleId)).toContain(IOC_RULE);
    expect(evaluator.evaluate(conn("192.0.2.200"))).toEqual([]);

    // Events kept flowing through it all, on one connection.
    const before = (await ctl.get(`/api/v1/agents/${agentId}`)).body;
    await waitFor("more events stored", async () => (await ctl.get(`/api/v1/agents/${agentId}`)).body.ackedSeq > before.ackedSeq + 20, 20_000);
    await agent.stop();
    expect(readStatusFile(agent.stateDir).link.connects).toBe(1);
  });
});
