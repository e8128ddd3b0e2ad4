import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { openEventDb, type EventDb } from "../support/event-db";
import { startSyntheticAgent, syntheticNext, waitForAgentId, type SyntheticAgentOptions } from "../support/synthetic-agent";
import { waitFor } from "../support/wait";
import { expectExactlyOnce, ledger, settle } from "./exactly-once";

describe("fault: agent kill -9 mid-stream, restarted on the same state dir", () => {
  let ctl: TestController;
  let db: EventDb;
  const agents: AgentProcess[] = [];
  beforeAll(async () => {
    ctl = await startTestController();
    db = await openEventDb(ctl.config.databaseUrl);
  });
  afterAll(async () => {
    for (const a of agents) await a.stop("SIGKILL");
    await db?.close();
    await ctl?.dispose();
  });

  it("every number is stored exactly once across two kills", async () => {
    const options: SyntheticAgentOptions = { controller: `127.0.0.1:${ctl.grpcPort}`, rate: 2000, count: 9000, env: { VIGIL_BACKOFF_MAX_MS: "500" } };
    let agent = startSyntheticAgent(options);
    agents.push(agent);
    const stateDir = agent.stateDir;
    const agentId = await waitForAgentId(stateDir, agent);
    const kills: Array<{ produced: number; stored: number }> = [];
    for (const at of [2000, 5000]) {
      // Mid-stream: the controller has stored some, the agent has more spooled and some in flight.
      await waitFor(`${at} events stored`, async () => ((await db.agent(agentId))?.ackedSeq ?? 0) >= at);
      await agent.stop("SIGKILL");
      kills.push({ produced: syntheticNext(stateDir) - 1, stored: (await db.totals(agentId)).count });
      agent = startSyntheticAgent({ ...options, stateDir });
      agents.push(agent);
    }
    const status = await settle({ agent, options: { ...options, stateDir }, db, agentId });
    const l = await ledger(db, agentId, status, options.count);
    console.log("agent kill -9:", { kills, lastSeq: l.lastSeq, stored: l.stored, unaccounted: l.unaccounted, replaysDeduplicated: ctl.writer.stats.duplicates });
    // A kill can land between reserving a tick's numbers and spooling them: at most 2 × (rate × 10 ms) per kill.
    expectExactlyOnce(l, { maxUnaccounted: kills.length * 40 });
    // Nothing was dropped, so the controller records no gap.
    expect((await db.agent(agentId))!.gaps).toEqual([]);
  });
});
