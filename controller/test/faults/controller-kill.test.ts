import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AgentProcess } from "../support/agent-process";
import { createPgDatabase } from "../support/controller";
import { freePort, startControllerProcess, type ControllerProcess } from "../support/controller-process";
import { openEventDb } from "../support/event-db";
import { describeAgent, startSyntheticAgent, waitForAgentId, type SyntheticAgentOptions } from "../support/synthetic-agent";
import { waitForProgress } from "../support/wait";
import { expectExactlyOnce, ledger, settle } from "./exactly-once";

const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function database(kind: "sqlite" | "postgres", dataDir: string): Promise<string> {
  if (kind === "sqlite") return `sqlite:${join(dataDir, "vigil.db")}`;
  const pg = await createPgDatabase();
  cleanups.push(pg.drop);
  return pg.url;
}

describe.each(["sqlite", "postgres"] as const)("fault: controller kill -9 mid-stream, restarted on the same database (%s)", (kind) => {
  it("every number is stored exactly once", { timeout: 180_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "vigil-fault-ctl-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const grpcPort = await freePort();
    const databaseUrl = await database(kind, dataDir);
    let ctl: ControllerProcess = await startControllerProcess({ grpcPort, dataDir, databaseUrl });
    cleanups.push(() => ctl.stop("SIGKILL"));
    const db = await openEventDb(databaseUrl);
    cleanups.push(() => db.close());

    const options: SyntheticAgentOptions = { controller: `127.0.0.1:${grpcPort}`, rate: 2000, count: 9000, env: { VIGIL_BACKOFF_MAX_MS: "500" } };
    const agent: AgentProcess = startSyntheticAgent(options);
    cleanups.push(() => agent.stop("SIGKILL"));
    const agentId = await waitForAgentId(agent.stateDir, agent);

    const acked = async () => (await db.agent(agentId))?.ackedSeq ?? 0;
    // On a loaded CI machine a healthy loop is slow, not stuck: fail on a stall only, and say where both sides stood.
    const context = () => `${describeAgent(agent)}\ncontroller log tail:\n${ctl.output().slice(-3000)}`;
    const outages: number[] = [];
    for (const at of [2000, 5000]) {
      await waitForProgress(`${at} events stored`, acked, at, { context });
      await ctl.stop("SIGKILL");
      const down = Date.now();
      // Down long enough that the agent's reconnects fail and back off a few times.
      await new Promise((r) => setTimeout(r, 1_000));
      ctl = await startControllerProcess({ grpcPort, dataDir, databaseUrl });
      const before = await acked();
      await waitForProgress("the agent to resume after the restart", acked, before + 1, { context });
      outages.push(Date.now() - down);
    }
    const status = await settle({ agent, options: { ...options, stateDir: agent.stateDir }, db, agentId });
    const l = await ledger(db, agentId, status, options.count);
    console.log(`controller kill -9 (${kind}):`, { outagesMs: outages, lastSeq: l.lastSeq, stored: l.stored, connects: status.link.connects });
    expectExactlyOnce(l);
    expect((await db.agent(agentId))!.gaps).toEqual([]);
    expect(status.link.connects).toBeGreaterThanOrEqual(3);
  });
});
