import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandStatus } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NetTopology, createTopology, netnsUnavailableReason, waitFor } from "../helpers/netns";
import { type NsAgent, nftTables, spawnNsAgent } from "./ns-agent";
import { bootFromSource } from "./boot-source";
import { type NsController, startNsController } from "./ns-controller";

const PORT = 7701;
const PEER_PORT = 7702;
const skipReason = await netnsUnavailableReason();
if (skipReason) console.log(`SKIP response isolation tests: ${skipReason}`);

describe.skipIf(skipReason !== null)("isolation through the real agent in a network namespace", () => {
  let topo: NetTopology;
  let nsc: NsController;
  let agent: NsAgent | undefined;
  const wallLog = join(tmpdir(), `vigil-wall-${process.pid}.log`);

  beforeAll(async () => {
    topo = await createTopology();
    nsc = await startNsController(topo.controller, PORT, bootFromSource);
    await Promise.all([topo.listen(topo.outside, PEER_PORT), topo.listen(topo.controller, PEER_PORT)]);
  });
  afterAll(async () => {
    await agent?.crash();
    await nsc?.dispose();
    await topo?.destroy();
    rmSync(wallLog, { force: true });
  });

  const connected = (a: NsAgent) => waitFor(() => nsc.ctl.registry.session(a.agentId) !== undefined, 15_000);
  const resultFor = (id: string) => waitFor(() => nsc.results.some((r) => r.result.commandId === id), 15_000).then(() => nsc.results.find((r) => r.result.commandId === id)!.result);

  it("isolate holds through kill -9 and a restart that must re-apply it; release removes every Vigil table", async () => {
    agent = spawnNsAgent(topo.host, { controller: nsc.address, wallLog });
    expect(await connected(agent), agent.output()).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT)).toBe(true);

    const iso = nsc.command(agent.agentId, "isolate", { reason: "test" });
    nsc.send(agent.agentId, iso);
    const isoId = iso.msg?.$case === "command" ? iso.msg.command.id : "";
    const r = await resultFor(isoId);
    expect(r, JSON.stringify(r)).toMatchObject({ status: CommandStatus.COMMAND_STATUS_SUCCEEDED, type: "isolate", local: false });
    expect(await nftTables(topo.host)).toEqual(["inet vigil_isolate"]);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT, 700)).toBe(false);
    expect(await topo.canConnect(topo.host, topo.outside.ip6, PEER_PORT, 700)).toBe(false);
    // Only the controller's gRPC port stays open, not the whole controller host.
    expect(await topo.canConnect(topo.host, topo.controller.ip4, PEER_PORT, 700)).toBe(false);
    expect(await topo.canConnect(topo.host, topo.controller.ip4, PORT)).toBe(true);
    // The agent's stream survived its own isolation, and its status says isolated.
    expect(await waitFor(async () => (await nsc.get(`/api/v1/agents/${agent!.agentId}`)).body?.status?.isolated === true, 10_000)).toBe(true);

    // Crash: the rules stay in the kernel.
    await agent.crash();
    expect(await nftTables(topo.host)).toEqual(["inet vigil_isolate"]);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT, 700)).toBe(false);

    // Reboot: the kernel forgets the table; the restarted agent must put it back from its state dir.
    await topo.host.run(["nft", "delete", "table", "inet", "vigil_isolate"]);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT)).toBe(true);
    agent = spawnNsAgent(topo.host, { controller: nsc.address, wallLog, stateDir: agent.stateDir });
    expect(await waitFor(async () => (await nftTables(topo.host)).includes("inet vigil_isolate"), 10_000), agent.output()).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT, 700)).toBe(false);
    expect(await connected(agent), agent.output()).toBe(true);

    const rel = nsc.command(agent.agentId, "release");
    nsc.send(agent.agentId, rel);
    const rr = await resultFor(rel.msg?.$case === "command" ? rel.msg.command.id : "");
    expect(rr.status, rr.reason).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect(await nftTables(topo.host)).toEqual([]);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT)).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip6, PEER_PORT)).toBe(true);
    expect(await topo.canConnect(topo.host, topo.controller.ip4, PEER_PORT)).toBe(true);

    // Users on the host were told (through the stand-in for wall).
    const wall = readFileSync(wallLog, "utf8");
    expect(wall).toMatch(/ISOLATED/);
    expect(wall).toMatch(/RELEASED/);

    // Both results are durable agent events too, visible through the REST API.
    let ids: string[] = [];
    await waitFor(async () => {
      const items = ((await nsc.get(`/api/v1/events?type=agent&agent=${agent!.agentId}&limit=100`)).body.items ?? []) as Array<{ agent: { kind: string; attributes: Record<string, string> } }>;
      ids = items.filter((e) => e.agent.kind === "command_result").map((e) => e.agent.attributes.commandId ?? "");
      return ids.includes(isoId) && ids.includes(rr.commandId);
    }, 15_000);
    expect(ids).toEqual(expect.arrayContaining([isoId, rr.commandId]));
  });
});
