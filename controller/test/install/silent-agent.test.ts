import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SILENT_AGENT_RULE_ID, SilentAgentWatcher, type SilentAgentAlert, type WatchedAgent } from "../../src/detection/silent-agent-watcher";
import { startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

describe("SilentAgentWatcher (fake clock)", () => {
  const setup = (opts: { alreadyRaised?: (id: string, lastSeenMs: number) => Promise<boolean>; failRaise?: () => boolean } = {}) => {
    let now = 1_000_000;
    const agents: WatchedAgent[] = [{ id: "a1", hostname: "web-1", tags: ["prod"], online: true, lastSeenMs: now }];
    const raised: SilentAgentAlert[] = [];
    const w = new SilentAgentWatcher({
      thresholdMs: 600_000,
      now: () => now,
      agents: async () => agents.map((a) => ({ ...a })),
      raise: async (a) => {
        if (opts.failRaise?.()) throw new Error("database down");
        raised.push(a);
      },
      alreadyRaised: opts.alreadyRaised,
    });
    return { w, agents, raised, advance: (ms: number) => (now += ms), at: () => now };
  };

  it("raises once per silence, and again after the agent came back and went silent again", async () => {
    const { w, agents, raised, advance, at } = setup();
    await w.check();
    agents[0] = { ...agents[0], online: false, lastSeenMs: at() };
    advance(599_000);
    expect(await w.check()).toEqual([]);
    advance(1_000);
    expect(await w.check()).toMatchObject([{ agentId: "a1", hostname: "web-1", silentForMs: 600_000, thresholdMs: 600_000 }]);
    advance(3_600_000);
    expect(await w.check()).toEqual([]);
    agents[0] = { ...agents[0], online: true, lastSeenMs: at() };
    await w.check();
    agents[0] = { ...agents[0], online: false };
    advance(600_000);
    expect(await w.check()).toHaveLength(1);
    expect(raised).toHaveLength(2);
  });

  it("counts silence from its own start: a controller that was down does not blame every agent", async () => {
    const { w, agents, advance } = setup();
    agents[0] = { ...agents[0], online: false, lastSeenMs: agents[0].lastSeenMs - 86_400_000 };
    expect(await w.check()).toEqual([]);
    advance(600_000);
    expect(await w.check()).toMatchObject([{ silentForMs: 600_000 }]);
  });

  it("does not raise again for a silence alerted before a restart", async () => {
    const seen: Array<[string, number]> = [];
    const { w, agents, raised, advance } = setup({ alreadyRaised: async (id, t) => (seen.push([id, t]), true) });
    agents[0] = { ...agents[0], online: false };
    advance(700_000);
    expect(await w.check()).toEqual([]);
    await w.check();
    expect(raised).toEqual([]);
    expect(seen).toEqual([["a1", agents[0].lastSeenMs]]); // asked once, then remembered
  });

  it("retries on the next pass when raising fails", async () => {
    let fail = true;
    const { w, agents, raised, advance } = setup({ failRaise: () => fail });
    agents[0] = { ...agents[0], online: false };
    advance(700_000);
    expect(await w.check()).toEqual([]);
    fail = false;
    expect(await w.check()).toHaveLength(1);
    expect(raised).toHaveLength(1);
  });
});

describe("agents list and the silent-agent alert (real controller, real gRPC stream)", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController({ env: { VIGIL_AGENT_SILENT_ALERT_AFTER: "1s" } });
  });
  afterAll(async () => {
    await ctl?.dispose();
  });

  it("shows version, last seen, online, isolation, sensors, spool and drops; raises a high alert on the host when it goes silent", async () => {
    const agent = new RawAgent(ctl.grpcPort);
    agent.hello("silent-1", {
      agentVersion: "1.2.3",
      status: { sensors: [{ name: "process", running: true, detail: "", events: 10, errors: 0 }], dropped: { network: 3 }, spoolBytes: 4096, spoolRecords: 7, isolated: true, spoolDiscardedBytes: 0 },
    });
    const online = await waitFor("agent online", async () => {
      const a = (await ctl.get("/api/v1/agents")).body.items?.find((x: { id: string }) => x.id === "silent-1");
      return a?.online ? a : undefined;
    });
    expect(online).toMatchObject({
      agentVersion: "1.2.3",
      online: true,
      offlineForMs: null,
      isolated: true,
      status: { sensors: [{ name: "process", running: true }], dropped: { network: 3 }, spoolBytes: 4096, spoolRecords: 7 },
    });
    expect(Date.parse(online.lastSeen)).toBeGreaterThan(Date.now() - 60_000);

    agent.close();
    const alert = await waitFor("silent-agent alert", async () => (await ctl.get(`/api/v1/alerts?rule=${SILENT_AGENT_RULE_ID}&agent=silent-1`)).body.items?.[0], 15_000, 200);
    expect(alert).toMatchObject({ rule: { id: SILENT_AGENT_RULE_ID, level: "high" }, agentId: "silent-1", hostname: "host-silent-1", entity: { kind: "host", value: "silent-1" } });
    expect(alert.events[0]).toMatchObject({ AgentId: "silent-1", ThresholdSeconds: 1 });
    expect(alert.caseId).toEqual(expect.any(String));

    const offline = (await ctl.get("/api/v1/agents/silent-1")).body;
    expect(offline).toMatchObject({ online: false, isolated: true });
    expect(offline.offlineForMs).toBeGreaterThanOrEqual(1000);

    // One alert per silence: more passes (every 250 ms) add nothing.
    const passesLater = Date.now() + 1_000;
    await waitFor("a few more watcher passes", () => Date.now() > passesLater);
    const all = (await ctl.get(`/api/v1/alerts?rule=${SILENT_AGENT_RULE_ID}`)).body.items;
    expect(all).toHaveLength(1);
    expect(all[0].count).toBe(1);
  });
});
