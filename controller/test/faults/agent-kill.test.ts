import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { openEventDb, type EventDb } from "../support/event-db";
import { describeAgent, startSyntheticAgent, syntheticNext, waitForAgentId, type SyntheticAgentOptions } from "../support/synthetic-agent";
import { waitForProgress } from "../support/wait";
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

  // Three agent starts and a settle on a loaded box: the waits below fail on a stall, not on slowness.
  it("every number is stored exactly once across two kills", { timeout: 180_000 }, async () => {
    const options: SyntheticAgentOptions = { controller: `127.0.0.1:${ctl.grpcPort}`, rate: 2000, count: 9000, env: { VIGIL_BACKOFF_MAX_MS: "500" } };
    let agent = startSyntheticAgent(options);
    agents.push(agent);
    const stateDir = agent.stateDir;
    const agentId = await waitForAgentId(stateDir, agent);
    const kills: Array<{ produced: number; stored: number }> = [];
    for (const at of [2000, 5000]) {
      // Mid-stream: the controller has stored some, the agent has more spooled and some in flight.
      // Tied to progress, not to a deadline: on a loaded CI box a restarted agent is slow, not stuck.
      const running = agent;
      await waitForProgress(`${at} events stored`, async () => (await db.agent(agentId))?.ackedSeq ?? 0, at, {
        context: () => `controller ingest ${JSON.stringify(ctl.writer.stats)}; ${describeAgent(running)}`,
      });
      await agent.stop("SIGKILL");
      kills.push({ produced: syntheticNext(stateDir) - 1, stored: (await db.totals(agentId)).count });
      agent = startSyntheticAgent({ ...options, stateDir });
      agents.push(agent);
    }
    const status = await settle({ agent, options: { ...options, stateDir }, db, agentId });
    const l = await ledger(db, agentId, status, options.count);
    console.log("agent kill -9:", { kills, lastSeq: l.lastSeq, stored: l.stored, unaccounted: l.unaccounted, replaysDeduplicated: ctl.writer.stats.duplicates });
    // A kill can land between reserving a step's numbers and spooling them; a step is one 10 ms tick's
    // worth (rate × 10 ms = 20) even when a late tick catches up: at most 2 × 20 per kill.
    expectExactlyOnce(l, { maxUnaccounted: kills.length * 40 });
    // And exactly which ones: only numbers of the step in flight at a kill, the last ones reserved before it.
    const notStored = Array.from({ length: options.count }, (_, i) => i + 1).filter((n) => !l.storedNumbers.has(n));
    const strays = notStored.filter((n) => !kills.some((k) => n <= k.produced && n > k.produced - 20));
    expect(strays, JSON.stringify({ kills, notStored })).toEqual([]);
    // Nothing was dropped, so the controller records no gap.
    expect((await db.agent(agentId))!.gaps).toEqual([]);
  });
});
