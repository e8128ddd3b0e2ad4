import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandStatus } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NetTopology, createTopology, netnsUnavailableReason, waitFor } from "../helpers/netns";
import { bootFromSource } from "./boot-source";
import { AGENT_BUNDLE, type NsAgent, nftTables, spawnNsAgent } from "./ns-agent";
import { type NsController, startNsController } from "./ns-controller";

const PORT = 7731;
const PEER_PORT = 7732;
const skipReason = await netnsUnavailableReason();
if (skipReason) console.log(`SKIP reapply test: ${skipReason}`);

function runIn(ns: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn("ip", ["netns", "exec", ns, process.execPath, AGENT_BUNDLE, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (out += d.toString()));
    c.once("exit", (code) => resolve({ code, out }));
  });
}

describe.skipIf(skipReason !== null)("vigil-agent reapply (the unit's ExecStartPre at boot)", () => {
  let topo: NetTopology;
  let nsc: NsController;
  let agent: NsAgent | undefined;
  const wallLog = join(tmpdir(), `vigil-wall-reapply-${process.pid}.log`);

  beforeAll(async () => {
    topo = await createTopology();
    nsc = await startNsController(topo.controller, PORT, bootFromSource);
    await topo.listen(topo.outside, PEER_PORT);
  });
  afterAll(async () => {
    await agent?.crash();
    await nsc?.dispose();
    await topo?.destroy();
    rmSync(wallLog, { force: true });
  });

  it("restores a persisted isolation without the agent running, and does nothing on a host that was not isolated", async () => {
    agent = spawnNsAgent(topo.host, { controller: nsc.address, wallLog });
    expect(await waitFor(() => nsc.ctl.registry.session(agent!.agentId) !== undefined, 15_000), agent.output()).toBe(true);
    const stateDir = agent.stateDir;

    // Not isolated: reapply adds nothing.
    const idle = await runIn(topo.host.ns, ["reapply", "--state-dir", stateDir, "--controller", nsc.address]);
    expect(idle.code, idle.out).toBe(0);
    expect(idle.out).toMatch(/isolated=false/);

    const iso = nsc.command(agent.agentId, "isolate", { reason: "reapply test" });
    nsc.send(agent.agentId, iso);
    const id = iso.msg?.$case === "command" ? iso.msg.command.id : "";
    expect(await waitFor(() => nsc.results.some((r) => r.result.commandId === id && r.result.status === CommandStatus.COMMAND_STATUS_SUCCEEDED), 15_000)).toBe(true);

    // Power cycle: the agent is gone and the kernel forgot the rules; the controller is down too.
    await agent.crash();
    agent = undefined;
    await nsc.stop();
    await topo.host.run(["nft", "delete", "table", "inet", "vigil_isolate"]);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT)).toBe(true);

    const boot = await runIn(topo.host.ns, ["reapply", "--state-dir", stateDir, "--controller", nsc.address]);
    expect(boot.code, boot.out).toBe(0);
    expect(boot.out).toMatch(/isolated=true/);
    expect(await nftTables(topo.host)).toContain("inet vigil_isolate");
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT, 700)).toBe(false);
    await topo.host.run(["nft", "delete", "table", "inet", "vigil_isolate"]);
  });
});
