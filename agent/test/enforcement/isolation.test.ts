import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BlockManager } from "../../src/enforcement/block";
import { isolateHandler, releaseHandler } from "../../src/enforcement/isolation-handlers";
import { IsolationManager } from "../../src/enforcement/isolation";
import type { IsolationPolicy } from "../../src/enforcement/isolation-ruleset";
import { Nft } from "../../src/enforcement/nft";
import { type NetTopology, createTopology, netnsUnavailableReason, waitFor } from "../helpers/netns";

const CTRL_PORT = 7443;
const OTHER_PORT = 7444;
const HOST_PORT = 2222;
const skipReason = await netnsUnavailableReason();
if (skipReason) console.log(`SKIP isolation tests: ${skipReason}`);

/** A client in `ns` holding one TCP connection open, so we can see if isolation cuts it. */
function persistentClient(ns: string, ip: string, port: number): { send(line: string): Promise<boolean>; close(): void } {
  const script = "const s=require('net').connect(Number(process.argv[2]),process.argv[1]);s.on('error',()=>{});" + "s.on('data',d=>process.stdout.write(d));process.stdin.on('data',d=>s.write(d))";
  const child: ChildProcessWithoutNullStreams = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script, ip, String(port)]);
  let echoed = "";
  child.stdout.on("data", (b: Buffer) => (echoed += b.toString()));
  return {
    send: async (line) => {
      child.stdin.write(`${line}\n`);
      return waitFor(() => echoed.includes(line), 1500);
    },
    close: () => child.kill("SIGKILL"),
  };
}

describe.skipIf(skipReason !== null)("host isolation in a network namespace", () => {
  let topo: NetTopology;
  let nft: Nft;
  let stateDir: string;
  const notices: string[] = [];
  let policy: IsolationPolicy;
  const manager = (check?: () => Promise<boolean>, p?: IsolationPolicy): IsolationManager =>
    new IsolationManager({
      nft,
      stateDir,
      policy: () => p ?? policy,
      checkControllerReachable: check ?? (() => topo.canConnect(topo.host, topo.controller.ip4, CTRL_PORT)),
      // Recorded instead of `wall`, so tests do not write to terminals on this shared machine.
      notifyUsers: async (m) => void notices.push(m),
    });

  beforeAll(async () => {
    topo = await createTopology();
    nft = new Nft(topo.host.run);
    stateDir = mkdtempSync(join(tmpdir(), "vigil-iso-"));
    policy = { controller: { addresses: [topo.controller.ip4, topo.controller.ip6], port: CTRL_PORT }, allowCidrs: [], dnsServers: [], allowDhcp: false };
    await Promise.all([topo.listen(topo.controller, CTRL_PORT), topo.listen(topo.controller, OTHER_PORT), topo.listen(topo.outside, CTRL_PORT), topo.listen(topo.host, HOST_PORT)]);
    // Baseline, so every "false" below is the rules' doing and not a broken topology.
    expect(await topo.canConnect(topo.outside, topo.host.ip4, HOST_PORT)).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip6, CTRL_PORT)).toBe(true);
  });
  afterAll(async () => {
    await topo?.destroy();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("isolates: controller port reachable on v4 and v6, outside and other ports not, open connections cut", async () => {
    const shell = persistentClient(topo.host.ns, topo.outside.ip4, CTRL_PORT);
    try {
      expect(await shell.send("before")).toBe(true);
      const out = await isolateHandler(manager()).run({ allowCidrs: [] }, "enforce", { commandId: "c-iso", local: false });
      expect(out).toMatchObject({ ok: true, output: { isolated: true } });

      expect(await topo.canConnect(topo.host, topo.controller.ip4, CTRL_PORT)).toBe(true);
      expect(await topo.canConnect(topo.host, topo.controller.ip6, CTRL_PORT)).toBe(true);
      const [out4, out6, otherPort, inbound, fromCtrl] = await Promise.all([
        topo.canConnect(topo.host, topo.outside.ip4, CTRL_PORT, 700),
        topo.canConnect(topo.host, topo.outside.ip6, CTRL_PORT, 700),
        topo.canConnect(topo.host, topo.controller.ip4, OTHER_PORT, 700),
        // Nothing may connect in either, not even from the controller's address.
        topo.canConnect(topo.outside, topo.host.ip4, HOST_PORT, 700),
        topo.canConnect(topo.controller, topo.host.ip4, HOST_PORT, 700),
      ]);
      expect({ out4, out6, otherPort, inbound, fromCtrl }).toEqual({ out4: false, out6: false, otherPort: false, inbound: false, fromCtrl: false });
      // A reverse shell opened before isolation must not survive it.
      expect(await shell.send("after")).toBe(false);
    } finally {
      shell.close();
    }
    const listing = await nft.listTable("inet", "vigil_isolate");
    expect(listing).toContain("ip6 daddr @ctrl6 tcp dport 7443 accept");
    expect(JSON.parse(readFileSync(join(stateDir, "isolation.json"), "utf8"))).toMatchObject({ isolated: true, commandId: "c-iso", local: false });
    expect(notices.at(-1)).toMatch(/ISOLATED/);
  });

  it("re-applies isolation at start after the kernel lost the table (reboot)", async () => {
    await nft.deleteTable("inet", "vigil_isolate");
    expect(await topo.canConnect(topo.host, topo.outside.ip4, CTRL_PORT)).toBe(true);
    // A fresh manager is what a restarted agent builds; the controller being down must not matter.
    const restarted = manager(async () => false);
    expect(await restarted.reapplyOnStart()).toEqual({ reapplied: true });
    expect(await nft.tableExists("inet", "vigil_isolate")).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, CTRL_PORT, 700)).toBe(false);
  });

  it("release removes only Vigil's isolation table; blocks and the system's tables stay", async () => {
    await nft.apply("table inet sysfw {\n chain c { type filter hook input priority 0; policy accept; }\n}\n");
    const blocks = new BlockManager({ nft, stateDir, protectedAddresses: () => policy.controller.addresses });
    await blocks.block("192.0.2.1", { commandId: "c-b" });

    const out = await releaseHandler(manager()).run({}, "enforce", { commandId: "c-rel", local: false });
    expect(out).toMatchObject({ ok: true, output: { isolated: false, wasIsolated: true } });
    const tables = await nft.listTables();
    expect(tables).not.toContain("inet vigil_isolate");
    expect(tables).toEqual(expect.arrayContaining(["inet sysfw", "inet vigil_block"]));
    expect(await topo.canConnect(topo.host, topo.outside.ip4, CTRL_PORT)).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip6, CTRL_PORT)).toBe(true);
    expect(notices.at(-1)).toMatch(/RELEASED/);
    expect(await manager().reapplyOnStart()).toEqual({ reapplied: false });

    await nft.deleteTable("inet", "sysfw");
    await nft.deleteTable("inet", "vigil_block");
    // Releasing a host that is not isolated is a success, not an error.
    expect(await releaseHandler(manager()).run({}, "enforce", { commandId: "c-rel2", local: false })).toMatchObject({ ok: true, output: { wasIsolated: false } });
  });

  it("rolls back and reports failure when the controller is unreachable through the new rules", async () => {
    // Misconfigured: the rules allow port 7999, the agent actually talks to 7443.
    const wrong = { ...policy, controller: { ...policy.controller, port: 7999 } };
    const out = await isolateHandler(manager(undefined, wrong)).run({ allowCidrs: [] }, "enforce", { commandId: "c-bad", local: false });
    expect(out.ok).toBe(false);
    expect(out.reason).toMatch(/controller unreachable after isolation; rolled back/);
    expect(await nft.tableExists("inet", "vigil_isolate")).toBe(false);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, CTRL_PORT)).toBe(true);
    expect(manager().isIsolated()).toBe(false);
  });

  it("a failed re-isolate restores the previous isolation instead of releasing the host", async () => {
    expect((await manager().isolate({ commandId: "c-first", local: false })).ok).toBe(true);
    const wrong = { ...policy, controller: { ...policy.controller, port: 7999 } };
    const out = await manager(undefined, wrong).isolate({ commandId: "c-second", local: false });
    expect(out).toMatchObject({ ok: false, rolledBack: true });
    // Still isolated with the first ruleset: controller yes, outside no.
    expect(await topo.canConnect(topo.host, topo.controller.ip4, CTRL_PORT)).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, CTRL_PORT, 700)).toBe(false);
    expect(manager().state()).toMatchObject({ isolated: true, commandId: "c-first" });
    await manager().release({ commandId: "c-rel-x" });
  });

  it("an isolate allowlist CIDR stays reachable", async () => {
    const out = await isolateHandler(manager()).run({ allowCidrs: [`${topo.outside.ip4}/32`] }, "enforce", { commandId: "c-allow", local: false });
    expect(out.ok).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, CTRL_PORT)).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip6, CTRL_PORT, 700)).toBe(false);
    await manager().release({ commandId: "c-rel3" });
  });

  it("monitor mode reports the ruleset and touches nothing", async () => {
    const out = await isolateHandler(manager()).run({ allowCidrs: [] }, "monitor", { commandId: "c-mon", local: false });
    expect(out).toMatchObject({ ok: true, notEnforced: true, reason: "not enforced (monitor)", output: { mode: "monitor" } });
    expect(String(out.output.ruleset)).toContain("policy drop");
    expect(await nft.tableExists("inet", "vigil_isolate")).toBe(false);
  });

  it("refuses bad params with the field named, and refuses to isolate without a controller address", async () => {
    const h = isolateHandler(manager());
    expect(() => h.validate({ allowCidrs: ["10.0.0.0/8; flush ruleset"] })).toThrow(/allowCidrs\[0\]/);
    expect(() => h.validate({ allowCidr: [] })).toThrow(/allowCidr: unknown parameter/);
    const blind = await isolateHandler(manager(undefined, { ...policy, controller: { addresses: [], port: CTRL_PORT } })).run({ allowCidrs: [] }, "enforce", { commandId: "c-blind", local: false });
    expect(blind).toMatchObject({ ok: false });
    expect(blind.reason).toMatch(/no address/);
    expect(await nft.tableExists("inet", "vigil_isolate")).toBe(false);
  });
});
