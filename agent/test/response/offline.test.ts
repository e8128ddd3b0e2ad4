import { spawn } from "node:child_process";
import { generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandStatus, type PolicyUpdate, policySigningPayload } from "@vigil/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NetTopology, createTopology, netnsUnavailableReason, waitFor } from "../helpers/netns";
import { markerPolicy } from "./marker-policy";
import { type NsAgent, nftTables, spawnNsAgent } from "./ns-agent";
import { bootFromSource } from "./boot-source";
import { type NsController, startNsController } from "./ns-controller";

const PORT = 7721;
const PEER_PORT = 7722;
const skipReason = await netnsUnavailableReason();
if (skipReason) console.log(`SKIP offline autonomy tests: ${skipReason}`);

type AgentEv = { agent: { kind: string; message: string; attributes: Record<string, string> } };

const gone = (pid: number): boolean => {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
};

describe.skipIf(skipReason !== null)("offline autonomy: the agent enforces its signed local policy with the controller down", () => {
  let topo: NetTopology;
  let nsc: NsController;
  let agent: NsAgent | undefined;
  const wallLog = join(tmpdir(), `vigil-wall-off-${process.pid}.log`);
  const marker = `vigil-offline-marker-${randomUUID().slice(0, 8)}`;

  const agentEvents = async (): Promise<AgentEv[]> => ((await nsc.get(`/api/v1/events?type=agent&agent=${agent!.agentId}&limit=500`)).body.items ?? []) as AgentEv[];
  const waitEvent = async (pred: (e: AgentEv) => boolean, what: string): Promise<AgentEv> => {
    let found: AgentEv | undefined;
    const ok = await waitFor(async () => (found = (await agentEvents()).find(pred)) !== undefined, 20_000, 200);
    expect(ok, `${what}\n${agent!.output().slice(-3000)}`).toBe(true);
    return found!;
  };

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

  it("refuses forged and older policies; with the controller stopped a rule hit kills and isolates; the reports arrive on reconnect", async () => {
    agent = spawnNsAgent(topo.host, { controller: nsc.address, wallLog, processSensor: true });
    expect(await waitFor(() => nsc.ctl.registry.session(agent!.agentId) !== undefined, 15_000), agent.output()).toBe(true);
    const id = agent.agentId;

    // A policy signed by someone else is refused.
    const { privateKey } = generateKeyPairSync("ed25519");
    const forgedBody = { version: 5, policyJson: JSON.stringify(markerPolicy(5, marker)), issuedAtMs: Date.now() };
    const forged: PolicyUpdate = { ...forgedBody, signature: sign(null, policySigningPayload(forgedBody, id), privateKey) };
    nsc.send(id, { msg: { $case: "policy", policy: forged } });
    const refused = await waitEvent((e) => e.agent.kind === "policy_refused" && e.agent.attributes.version === "5", "forged policy refused");
    expect(refused.agent.message).toMatch(/^bad_signature/);

    nsc.send(id, { msg: { $case: "policy", policy: nsc.policy(id, markerPolicy(2, marker)) } });
    const applied = await waitEvent((e) => e.agent.kind === "policy_applied" && e.agent.attributes.version === "2", "policy v2 applied");
    expect(applied.agent.attributes).toMatchObject({ rules: "1", iocs: "1", errors: "0" });
    nsc.send(id, { msg: { $case: "policy", policy: nsc.policy(id, markerPolicy(1, marker)) } });
    const older = await waitEvent((e) => e.agent.kind === "policy_refused" && e.agent.attributes.version === "1", "older policy refused");
    expect(older.agent.message).toMatch(/not newer/);

    // Controller down; the agent restarts (crash) and must act on the policy from its state dir alone.
    await nsc.stop();
    await agent.crash();
    agent = spawnNsAgent(topo.host, { controller: nsc.address, wallLog, processSensor: true, stateDir: agent.stateDir });
    expect(await waitFor(() => agent!.output().includes("local policy loaded") && agent!.output().includes("agent started"), 15_000), agent.output()).toBe(true);
    expect(await nftTables(topo.host)).toEqual([]);

    const t0 = Date.now();
    const bad = spawn("sh", ["-c", `sleep 300 & wait; : ${marker}`], { stdio: "ignore" });
    const pid = bad.pid!;
    expect(await waitFor(() => gone(pid), 10_000), agent.output().slice(-3000)).toBe(true);
    expect(await waitFor(async () => (await nftTables(topo.host)).includes("inet vigil_isolate"), 10_000)).toBe(true);
    console.log(`offline: marker process killed and host isolated within ${Date.now() - t0} ms`);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT, 700)).toBe(false);

    // The controller returns: the agent reconnects through its own isolation and the spool delivers the reports.
    await nsc.start();
    const kill = await waitEvent((e) => e.agent.kind === "command_result" && e.agent.attributes.type === "kill_process" && e.agent.attributes.local === "true", "kill report");
    expect(kill.agent.attributes).toMatchObject({ status: "succeeded", ruleId: "marker" });
    // The output is kept with the command (behind its permission), not in the stored event.
    expect(kill.agent.attributes.output).toBeUndefined();
    let killed: Array<{ pid: number }> = [];
    expect(await waitFor(async () => (killed = (await nsc.get(`/api/v1/commands/${kill.agent.attributes.commandId}`)).body?.output?.killed ?? []).length > 0, 10_000, 200)).toBe(true);
    expect(killed.map((k) => k.pid)).toContain(pid);
    const iso = await waitEvent((e) => e.agent.kind === "command_result" && e.agent.attributes.type === "isolate" && e.agent.attributes.local === "true", "isolate report");
    expect(iso.agent.attributes).toMatchObject({ status: "succeeded", ruleId: "marker" });
    expect((await nsc.get(`/api/v1/agents/${id}`)).body?.status?.isolated).toBe(true);

    // Only an analyst's signed command releases.
    const rel = nsc.command(id, "release");
    nsc.send(id, rel);
    const relId = rel.msg?.$case === "command" ? rel.msg.command.id : "";
    expect(await waitFor(() => nsc.results.some((r) => r.result.commandId === relId && r.result.status === CommandStatus.COMMAND_STATUS_SUCCEEDED), 15_000)).toBe(true);
    expect(await nftTables(topo.host)).toEqual([]);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT)).toBe(true);
  });
});
