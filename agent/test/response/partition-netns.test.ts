import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NetTopology, createTopology, netnsUnavailableReason, waitFor } from "../helpers/netns";
import { bootFromSource } from "./boot-source";
import { type NsAgent, spawnNsAgent } from "./ns-agent";
import { type NsController, startNsController } from "./ns-controller";
import { syntheticNext } from "../../../controller/test/support/synthetic-agent";

const PORT = 7721;
const COUNT = 3000;
const skipReason = await netnsUnavailableReason();
if (skipReason) console.log(`SKIP network partition test: ${skipReason}`);

/**
 * Issue 5's partition fault, on a real network: the agent's host namespace loses
 * its link (veth down) for longer than the agent's backoff cap, then gets it back.
 * Every numbered event must be stored exactly once, none acknowledged while cut off.
 */
describe.skipIf(skipReason !== null)("fault: network partition (veth down) longer than the backoff cap", () => {
  let topo: NetTopology;
  let nsc: NsController;
  let agent: NsAgent | undefined;
  const wallLog = join(tmpdir(), `vigil-wall-part-${process.pid}.log`);

  beforeAll(async () => {
    topo = await createTopology();
    nsc = await startNsController(topo.controller, PORT, bootFromSource);
  });
  afterAll(async () => {
    await agent?.crash();
    await nsc?.dispose();
    await topo?.destroy();
    rmSync(wallLog, { force: true });
  });

  it("stores every event exactly once after the link comes back", async () => {
    agent = spawnNsAgent(topo.host, { controller: nsc.address, wallLog, extraConfig: { synthetic_rate: 400, synthetic_count: COUNT, backoff_max_ms: 500, spool_fsync: "never" } });
    const id = agent.agentId;
    const acked = async () => (await nsc.ctl.registry.get(id))?.ackedSeq ?? 0;
    expect(await waitFor(async () => (await acked()) >= 400, 20_000), agent.output()).toBe(true);

    // The partition is measured in events the agent keeps producing (400/s) while cut off.
    const produced = () => syntheticNext(agent!.stateDir) - 1;
    await topo.host.run(["ip", "link", "set", "eth0", "down"]);
    const atCut = produced();
    // Anything in flight when the link dropped can still land; once the agent has produced another
    // 400 events (1 s) with no link, nothing more may be acknowledged.
    expect(await waitFor(() => produced() >= atCut + 400, 10_000)).toBe(true);
    const ackedWhileCut = await acked();
    // 1,200 more events: 3 s cut off, six times the 500 ms backoff cap.
    expect(await waitFor(() => produced() >= atCut + 1600, 15_000)).toBe(true);
    expect(await acked()).toBe(ackedWhileCut);
    expect(ackedWhileCut).toBeLessThan(COUNT);
    await topo.host.run(["ip", "link", "set", "eth0", "up"]);

    expect(await waitFor(async () => (await acked()) >= COUNT, 60_000), agent.output().slice(-3000)).toBe(true);
    const view = await nsc.ctl.registry.get(id);
    expect(view?.missingEvents).toBe(0);
    expect(await nsc.ctl.store.countForAgent(id)).toBe(COUNT);
  });
});
