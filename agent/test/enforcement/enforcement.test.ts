import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandStatus } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandExecutor, CommandVerifier } from "../../src/commands";
import { createEnforcement, Nft } from "../../src/enforcement";
import { testSigner } from "../commands/signer";
import { type NetTopology, createTopology, netnsUnavailableReason } from "../helpers/netns";

const PORT = 7600;
const AGENT = "agent-ns";
const skipReason = await netnsUnavailableReason();
if (skipReason) console.log(`SKIP enforcement wiring tests: ${skipReason}`);

describe.skipIf(skipReason !== null)("signed commands through the executor to nftables in a namespace", () => {
  let topo: NetTopology;
  let stateDir: string;
  const controller = testSigner();
  const notices: string[] = [];
  const build = () => {
    const enf = createEnforcement({
      stateDir,
      run: topo.host.run,
      isolationPolicy: () => ({ controller: { addresses: [topo.controller.ip4], port: PORT }, allowCidrs: [], dnsServers: [], allowDhcp: false }),
      checkControllerReachable: () => topo.canConnect(topo.host, topo.controller.ip4, PORT),
      notifyUsers: async (m) => void notices.push(m), // not `wall`: this machine is shared
    });
    const verifier = new CommandVerifier({ controllerPublicKey: controller.publicKeyRaw, agentId: AGENT, stateDir });
    return { enf, ex: new CommandExecutor({ verifier, handlers: enf.handlers }) };
  };

  beforeAll(async () => {
    topo = await createTopology();
    stateDir = mkdtempSync(join(tmpdir(), "vigil-enf-"));
    await Promise.all([topo.listen(topo.controller, PORT), topo.listen(topo.outside, PORT)]);
  });
  afterAll(async () => {
    await topo?.destroy();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("isolate + block survive an agent restart and a lost kernel table; release lifts only isolation", async () => {
    const { ex } = build();
    const t0 = performance.now();
    const iso = await ex.execute(controller.command({ agentId: AGENT, type: "isolate" }));
    const isolateMs = performance.now() - t0;
    console.log(`isolate via executor (verify + nft apply + reachability check): ${isolateMs.toFixed(0)} ms`);
    expect(iso).toMatchObject({ status: CommandStatus.COMMAND_STATUS_SUCCEEDED, reason: "" });
    const blk = await ex.execute(controller.command({ agentId: AGENT, type: "block_ip", paramsJson: JSON.stringify({ ip: "203.0.113.9", ttlSeconds: 3600 }) }));
    expect(blk.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);

    // Reboot: the kernel forgets everything; a new agent process re-applies from the state dir.
    const nft = new Nft(topo.host.run);
    await nft.deleteTable("inet", "vigil_isolate");
    await nft.deleteTable("inet", "vigil_block");
    const restarted = build();
    expect(await restarted.enf.reapplyOnStart()).toEqual({ isolation: { reapplied: true }, blocks: { reapplied: 1 } });
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PORT, 700)).toBe(false);
    expect(await topo.canConnect(topo.host, topo.controller.ip4, PORT)).toBe(true);

    const rel = await restarted.ex.execute(controller.command({ agentId: AGENT, type: "release" }));
    expect(rel.status).toBe(CommandStatus.COMMAND_STATUS_SUCCEEDED);
    expect(await nft.listTables()).toEqual(["inet vigil_block"]);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PORT)).toBe(true);
    expect(notices).toEqual([expect.stringMatching(/ISOLATED/), expect.stringMatching(/RELEASED/)]);
  });
});
