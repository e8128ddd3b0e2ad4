import Database from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AgentProcess } from "../support/agent-process";
import { createPgDatabase } from "../support/controller";
import { freePort, startControllerProcess, type ControllerProcess } from "../support/controller-process";
import { openEventDb, type EventDb } from "../support/event-db";
import { sampleRss } from "../support/proc-stats";
import { describeAgent, startSyntheticAgent, syntheticNext, waitForAgentId, type SyntheticAgentOptions } from "../support/synthetic-agent";
import { TcpProxy, type ProxyMode } from "../support/tcp-proxy";
import { waitFor, waitForProgress } from "../support/wait";
import { expectExactlyOnce, ledger, settle } from "./exactly-once";

const MiB = 1024 * 1024;
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Outage {
  /** Makes the database unavailable to the controller. */
  begin(): Promise<void> | void;
  end(): Promise<void> | void;
}

/**
 * Runs the synthetic agent against a controller process, takes the database
 * away for `outageMs` mid-stream, and checks: nothing is acked while nothing
 * can be stored, the agent keeps spooling, memory stays flat, and everything
 * arrives exactly once afterwards.
 */
async function runOutage(name: string, databaseUrl: string, outage: Outage, outageMs: number, controllerDb = databaseUrl, restartAfterOutage = false, env: Record<string, string> = {}): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "vigil-fault-db-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const grpcPort = await freePort();
  let ctl: ControllerProcess = await startControllerProcess({ grpcPort, dataDir, databaseUrl: controllerDb, env });
  cleanups.push(() => ctl.stop("SIGKILL"));
  const db: EventDb = await openEventDb(databaseUrl);
  cleanups.push(() => db.close());
  const options: SyntheticAgentOptions = { controller: `127.0.0.1:${grpcPort}`, rate: 2000, count: 20_000, env: { VIGIL_BACKOFF_MAX_MS: "500" } };
  const agent: AgentProcess = startSyntheticAgent(options);
  cleanups.push(() => agent.stop("SIGKILL"));
  const agentId = await waitForAgentId(agent.stateDir, agent);
  // A loaded machine is slow, not stuck: fail on a stall only, saying where both sides stood.
  await waitForProgress("3000 events stored", async () => (await db.agent(agentId))?.ackedSeq ?? 0, 3000, {
    context: () => `${describeAgent(agent)}\ncontroller log tail:\n${ctl.output().slice(-3000)}`,
  });

  const rss = sampleRss({ controller: ctl.child.pid, agent: agent.child.pid });
  const before = { controller: 0, agent: 0, ...rss.stop() };
  const during = sampleRss({ controller: ctl.child.pid, agent: agent.child.pid });
  await outage.begin();
  const ackedAtBegin = (await db.agent(agentId))!.ackedSeq;
  const producedAtBegin = syntheticNext(agent.stateDir);
  await new Promise((r) => setTimeout(r, outageMs));
  const ackedAtEnd = (await db.agent(agentId))!.ackedSeq;
  const storedAtEnd = (await db.totals(agentId)).count;
  const producedDuring = syntheticNext(agent.stateDir) - producedAtBegin;
  await outage.end();
  const endedAt = Date.now();
  if (restartAfterOutage) {
    await ctl.stop("SIGKILL");
    ctl = await startControllerProcess({ grpcPort, dataDir, databaseUrl: controllerDb });
  }
  await waitFor("ingest to resume", async () => ((await db.agent(agentId))?.ackedSeq ?? 0) > ackedAtEnd, 20_000).catch((e: Error) => {
    throw new Error(`${e.message}\n--- controller ---\n${ctl.output().slice(-4000)}\n--- agent ---\n${agent.output().slice(-3000)}`);
  });
  const resumeMs = Date.now() - endedAt;
  const peak = during.stop();

  const status = await settle({ agent, options: { ...options, stateDir: agent.stateDir }, db, agentId, timeoutMs: 60_000 });
  const l = await ledger(db, agentId, status, options.count);
  const health = await ctl.get("/api/v1/healthz");
  console.log(`database unavailable (${name}):`, {
    outageMs,
    producedDuring,
    ackedDuring: ackedAtEnd - ackedAtBegin,
    resumeMs,
    rssMiB: {
      controllerBefore: +(before.controller / MiB).toFixed(1),
      controllerPeak: +(peak.controller! / MiB).toFixed(1),
      agentBefore: +(before.agent / MiB).toFixed(1),
      agentPeak: +(peak.agent! / MiB).toFixed(1),
    },
    ingest: health.body.ingest,
    connects: status.link.connects,
    stored: l.stored,
  });

  // The ack covers only what is stored: at the end of the outage the stored ack is backed by rows.
  expect(storedAtEnd).toBeGreaterThanOrEqual(ackedAtEnd);
  // At most the batch(es) already in a transaction when the outage began can land.
  expect(ackedAtEnd - ackedAtBegin).toBeLessThan(5_000);
  // The agent kept producing and spooling.
  expect(producedDuring).toBeGreaterThan(0.8 * 2000 * (outageMs / 1000));
  // Bounded memory: a backlog of ~outageMs × 2000 events is on the agent's disk, not in anyone's heap.
  expect(peak.controller! - before.controller).toBeLessThan(96 * MiB);
  expect(peak.agent! - before.agent).toBeLessThan(64 * MiB);
  expectExactlyOnce(l);
  expect((await db.agent(agentId))!.gaps).toEqual([]);
}

describe("fault: database unavailable for a while, then back", () => {
  it("SQLite: the file is locked by another connection's exclusive transaction", { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "vigil-fault-sqlite-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const url = `sqlite:${join(dir, "vigil.db")}`;
    let locker: Database.Database | undefined;
    cleanups.push(() => locker?.close());
    // Longer than the controller's 5 s busy_timeout, so writes fail (not just wait) and the agent reconnects.
    await runOutage(
      "sqlite lock",
      url,
      {
        begin() {
          locker = new Database(url.slice("sqlite:".length));
          locker.pragma("busy_timeout = 10000");
          locker.exec("BEGIN EXCLUSIVE");
        },
        end() {
          locker!.exec("ROLLBACK");
          locker!.close();
          locker = undefined;
        },
      },
      7_000,
    );
  });

  for (const mode of ["refuse", "blackhole"] as const satisfies readonly ProxyMode[]) {
    it(`PostgreSQL behind a proxy that is cut (${mode})`, { timeout: 180_000 }, async () => {
      // A connection that goes silent (blackhole) must not hang ingest: the query times out, the
      // dead connection is destroyed rather than pooled, and ingest resumes without a restart.
      const pg = await createPgDatabase();
      cleanups.push(pg.drop);
      const u = new URL(pg.url);
      const proxy = await new TcpProxy({ host: u.hostname, port: Number(u.port || 5432) }).start();
      cleanups.push(() => proxy.close());
      const viaProxy = new URL(pg.url);
      viaProxy.port = String(proxy.port);
      await runOutage(`postgres ${mode}`, pg.url, { begin: () => proxy.setMode(mode), end: () => proxy.setMode("pass") }, 4_000, viaProxy.toString(), false, { VIGIL_PG_QUERY_TIMEOUT_MS: "3000" });
    });
  }
});
