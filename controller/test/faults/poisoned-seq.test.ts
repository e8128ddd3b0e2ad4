import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentProcess } from "../support/agent-process";
import { startTestController, type TestController } from "../support/controller";
import { openEventDb, type EventDb } from "../support/event-db";
import { RawAgent } from "../support/raw-agent";
import { describeAgent, startSyntheticAgent, waitForAgentId, waitProduced, type SyntheticAgentOptions } from "../support/synthetic-agent";
import { waitFor, waitForProgress } from "../support/wait";
import { expectExactlyOnce, ledger, settle } from "./exactly-once";

/**
 * Issue #10 class 2 with real processes: the real agent bundle producing
 * numbered events, a forged batch with seq 2^53−1 under its identity, and the
 * state an older version was left in after adopting that ack (agent spool meta
 * and controller cursor both at 2^53−1). Every number must still be stored
 * exactly once.
 */
const POISON = 2 ** 53 - 1;

describe("fault: a forged sequence number does not blind the agent", () => {
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

  it("the forged batch is refused; a poisoned state left by an older version heals on restart; nothing is lost or duplicated", async () => {
    const options: SyntheticAgentOptions = { controller: `127.0.0.1:${ctl.grpcPort}`, rate: 2000, count: 1000, env: { VIGIL_BACKOFF_MAX_MS: "300" } };
    const first = startSyntheticAgent(options);
    agents.push(first);
    const stateDir = first.stateDir;
    const agentId = await waitForAgentId(stateDir, first);
    await waitProduced(stateDir, 1000, first);
    await waitForProgress("1000 acked", async () => (await db.agent(agentId))?.ackedSeq ?? 0, 1000, { context: () => describeAgent(first) });
    expect((await db.agent(agentId))?.ackedSeq).toBe(1000);

    // The attack, under the agent's identity, while it runs. The forged batch is pipelined behind
    // the Hello, as an attacker would: the controller reads it as soon as the Hello is handled.
    // Waiting for the Welcome first gave the real agent a whole round trip to take its stream back
    // (a newer connection replaces the older; full-jitter reconnects can be immediate), which on a
    // loaded machine it could win every time. It still can, rarely: then the attacker tries again.
    // What it may never get is its batch accepted.
    let refusal: string | undefined;
    for (let attempt = 0; attempt < 10 && refusal === undefined; attempt++) {
      const attacker = new RawAgent(ctl.grpcPort);
      attacker.hello(agentId, { lastSeq: 1000 });
      attacker.events(POISON, 1);
      await waitFor("the refusal", () => attacker.error);
      const details = attacker.error!.details;
      attacker.close();
      if (/beyond what this agent can have produced/.test(details)) refusal = details;
      else expect(details).toMatch(/replaced by a newer connection/);
    }
    expect(refusal).toMatch(/beyond what this agent can have produced/);
    await first.stop("SIGTERM");

    // What an older agent and controller were left with after accepting it.
    const metaFile = join(stateDir, "spool", "meta.json");
    const meta = JSON.parse(readFileSync(metaFile, "utf8")) as Record<string, unknown>;
    writeFileSync(metaFile, JSON.stringify({ ...meta, ackedSeq: POISON, lastSeq: POISON }));
    await ctl.dataSource.query(`UPDATE agents SET acked_seq = ?, last_seq = ? WHERE id = ?`, [POISON, POISON, agentId]);

    const second = startSyntheticAgent({ ...options, stateDir, count: 2000 });
    agents.push(second);
    const status = await settle({ agent: second, options: { ...options, stateDir, count: 2000 }, db, agentId });
    expect(second.output()).toMatch(/spool repaired at open/);
    const l = await ledger(db, agentId, status, 2000);
    console.log("poisoned seq:", { stored: l.stored, lastSeq: l.lastSeq, missing: l.missingSeqs.length, duplicates: l.duplicateNumbers });
    expectExactlyOnce(l);
    expect(l.lastSeq).toBe(2000);
    const view = (await ctl.get(`/api/v1/agents/${agentId}`)).body;
    expect(view).toMatchObject({ ackedSeq: 2000, lastSeq: 2000, missingEvents: 0 });
    expect(view.status.acksBeyondLast).toBeGreaterThanOrEqual(1);
  });
});
