import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { openEventDb, type EventDb } from "../support/event-db";
import { describeAgent, startSyntheticAgent, syntheticNext, waitForAgentId, type SyntheticAgentOptions } from "../support/synthetic-agent";
import { TcpProxy } from "../support/tcp-proxy";
import { waitFor, waitForProgress } from "../support/wait";
import { expectExactlyOnce, ledger, settle } from "./exactly-once";

const BACKOFF_MAX_MS = 500;
const PARTITION_MS = 3_000;

describe("fault: network partition longer than the backoff cap, then healed (TCP proxy on loopback)", () => {
  let ctl: TestController;
  let db: EventDb;
  let proxy: TcpProxy;
  let agent: AgentProcess | undefined;
  beforeAll(async () => {
    ctl = await startTestController();
    db = await openEventDb(ctl.config.databaseUrl);
    proxy = await new TcpProxy({ host: "127.0.0.1", port: ctl.grpcPort }).start();
  });
  afterAll(async () => {
    await agent?.stop("SIGKILL");
    await proxy?.close();
    await db?.close();
    await ctl?.dispose();
  });

  it("the agent keeps spooling, retries at the capped backoff, and delivers everything once after the heal", { timeout: 180_000 }, async () => {
    const options: SyntheticAgentOptions = { controller: proxy.address, rate: 2000, count: 40_000, env: { VIGIL_BACKOFF_MAX_MS: String(BACKOFF_MAX_MS) } };
    agent = startSyntheticAgent(options);
    const agentId = await waitForAgentId(agent.stateDir, agent);
    // A loaded machine is slow, not stuck: fail on a stall only, saying where the agent stood.
    await waitForProgress("2000 events stored", async () => (await db.agent(agentId))?.ackedSeq ?? 0, 2000, { context: () => describeAgent(agent!) });

    proxy.setMode("refuse");
    const cutAt = Date.now();
    const acceptedBefore = proxy.accepted;
    const ackedAtCut = (await waitFor("the cut to settle", async () => db.agent(agentId)))!.ackedSeq;
    const producedAtCut = syntheticNext(agent.stateDir);
    // The cut must come while the source still has numbers to produce, or "spooled through the
    // partition" is not tested; on a loaded machine storage lags production, hence the long source.
    expect(options.count - producedAtCut, "the source ran out before the cut").toBeGreaterThan(2000 * (PARTITION_MS / 1000));
    await new Promise((r) => setTimeout(r, PARTITION_MS));
    const attempts = proxy.accepted - acceptedBefore;
    const ackedDuring = (await db.agent(agentId))!.ackedSeq;
    const producedDuring = syntheticNext(agent.stateDir) - producedAtCut;

    proxy.setMode("pass");
    const healedAt = Date.now();
    await waitFor("the agent to deliver again after the heal", async () => ((await db.agent(agentId))?.ackedSeq ?? 0) > ackedDuring, 10_000);
    const resumeMs = Date.now() - healedAt;

    const status = await settle({ agent, options: { ...options, stateDir: agent.stateDir }, db, agentId });
    const l = await ledger(db, agentId, status, options.count);
    console.log("partition:", { partitionMs: healedAt - cutAt, reconnectAttempts: attempts, producedDuring, storedDuring: ackedDuring - ackedAtCut, resumeMs, stored: l.stored });

    // Nothing can be stored through a cut (a batch already committed when the cut came may still land).
    expect(ackedDuring - ackedAtCut).toBeLessThan(1_000);
    // The source never stopped: the agent spooled through the partition.
    expect(producedDuring).toBeGreaterThan(0.8 * 2000 * (PARTITION_MS / 1000));
    // Retries kept coming at the cap (~every 250..500 ms), not stretched to the 30 s default.
    expect(attempts).toBeGreaterThanOrEqual(Math.floor(PARTITION_MS / BACKOFF_MAX_MS) - 1);
    // After the heal the next retry is at most one capped backoff away.
    expect(resumeMs).toBeLessThan(BACKOFF_MAX_MS + 2_000);
    expectExactlyOnce(l);
    expect((await db.agent(agentId))!.gaps).toEqual([]);
  });
});
