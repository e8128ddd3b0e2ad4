/**
 * Outage benchmark: a real agent generating numbered events at 1,000/s keeps
 * running through a controller outage (kill -9, then restart on the same
 * database). Prints what was produced, stored, stored twice (must be 0) and
 * dropped (must be 0 under the default 1 GiB spool bound), and how long the
 * backlog took to drain after the controller came back.
 *
 *   npm run bench:outage -- [--outage-seconds 300] [--rate 1000] [--warmup-seconds 10] [--mix process:8,auth:1,agent:1] [--no-write]
 *
 * Reuses the fault tests' helpers (controller/test/support) so both measure the
 * same thing the same way; the agent is the built bundle (`npm run build`).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { freePort, startControllerProcess, type ControllerProcess } from "../../controller/test/support/controller-process";
import { openEventDb } from "../../controller/test/support/event-db";
import { sampleRss } from "../../controller/test/support/proc-stats";
import { agentIdOf, readStatusFile, startSyntheticAgent, syntheticNext, waitForAgentId, waitProduced, type SyntheticAgentOptions } from "../../controller/test/support/synthetic-agent";
import { waitFor } from "../../controller/test/support/wait";
import { machine, writeBenchSection } from "./lib/report";

const { values } = parseArgs({
  options: {
    "outage-seconds": { type: "string", default: "300" },
    "warmup-seconds": { type: "string", default: "10" },
    rate: { type: "string", default: "1000" },
    mix: { type: "string", default: "process:8,auth:1,agent:1" },
    "no-write": { type: "boolean", default: false },
  },
});
const OUTAGE_S = Number(values["outage-seconds"]);
const WARMUP_S = Number(values["warmup-seconds"]);
const RATE = Number(values.rate);
const MiB = 1024 * 1024;

function log(msg: string): void {
  process.stderr.write(`[outage] ${msg}\n`);
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "vigil-bench-outage-"));
  const dataDir = join(work, "controller");
  const databaseUrl = `sqlite:${join(dataDir, "vigil.db")}`;
  const grpcPort = await freePort();
  let ctl: ControllerProcess = await startControllerProcess({ grpcPort, dataDir, databaseUrl });
  const db = await openEventDb(databaseUrl);
  // Enough numbers to cover warm-up, the outage and a tail after it; the source stops at the end.
  const count = RATE * (WARMUP_S + OUTAGE_S + 30);
  const options: SyntheticAgentOptions = { controller: `127.0.0.1:${grpcPort}`, stateDir: join(work, "agent"), rate: RATE, count, mix: values.mix };
  let agent = startSyntheticAgent(options);
  try {
    const agentId = await waitForAgentId(options.stateDir!, agent);
    await waitFor("the agent to deliver", async () => ((await db.agent(agentId))?.ackedSeq ?? 0) > 0, 30_000);
    log(`warm-up ${WARMUP_S} s at ${RATE} events/s`);
    await new Promise((r) => setTimeout(r, WARMUP_S * 1000));

    await ctl.stop("SIGKILL");
    const downAt = Date.now();
    const rss = sampleRss({ agent: agent.child.pid }, 1000);
    log(`controller killed (-9); outage ${OUTAGE_S} s`);
    await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));

    ctl = await startControllerProcess({ grpcPort, dataDir, databaseUrl });
    const upAt = Date.now();
    // With nothing dropped, seq = number: the backlog is every number produced up to now.
    const backlogEnd = syntheticNext(options.stateDir!) - 1;
    const ackedAtUp = (await db.agent(agentId))!.ackedSeq;
    log(`controller back after ${((upAt - downAt) / 1000).toFixed(1)} s; backlog ${backlogEnd - ackedAtUp} events`);
    const reconnected = await waitFor("the agent to reconnect", async () => ((await db.agent(agentId))?.ackedSeq ?? 0) > ackedAtUp && Date.now(), 120_000);
    await waitFor("the backlog to drain", async () => ((await db.agent(agentId))?.ackedSeq ?? 0) >= backlogEnd, 3_600_000, 50);
    const drainedAt = Date.now();
    const peakAgentRss = rss.stop().agent ?? 0;
    // Drain counts from the reconnect (the first batch stored again): before it, the agent is
    // waiting out its backoff (up to the 30 s cap after a long outage), reported separately.
    const reconnectS = (reconnected - upAt) / 1000;
    const drainS = (drainedAt - reconnected) / 1000;
    log(`reconnected ${reconnectS.toFixed(1)} s after the controller was back; drained in ${drainS.toFixed(1)} s`);

    // End exactly: the source finishes, the agent stops cleanly and reports its spool.
    await waitProduced(options.stateDir!, count, agent, (count / RATE) * 1000 + 120_000);
    await waitFor("the last number to be stored", async () => ((await db.agent(agentId))?.ackedSeq ?? 0) >= count, 120_000).catch(() => undefined);
    await agent.stop("SIGTERM");
    let status = readStatusFile(options.stateDir!);
    if (status.spool.ackedSeq < status.spool.lastSeq) {
      agent = startSyntheticAgent(options);
      await waitFor("the rest to be stored", async () => ((await db.agent(agentId))?.ackedSeq ?? 0) >= status.spool.lastSeq, 300_000);
      await agent.stop("SIGTERM");
      status = readStatusFile(options.stateDir!);
    }
    const totals = await db.totals(agentIdOf(options.stateDir!));
    const produced = status.spool.lastSeq;
    const dropped = Object.values(status.spool.dropped).reduce((a, b) => a + b, 0);
    const duplicates = totals.count - totals.distinct;
    const health = (await ctl.get("/api/v1/healthz")).body as { ingest?: { duplicates?: number } };
    const replays = health.ingest?.duplicates ?? 0;
    const backlog = backlogEnd - ackedAtUp;
    // Backlog plus what the source added meanwhile, per second of draining.
    const drainRate = Math.round((backlog + RATE * drainS) / Math.max(drainS, 0.001));

    if (!values["no-write"]) {
      writeBenchSection(
        "outage",
        [
          "## Outage",
          "",
          `\`npm run bench:outage -- --outage-seconds ${OUTAGE_S}\` — the real agent (bundle, synthetic source at ${RATE} events/s, mix \`${values.mix}\`, default spool: 1 GiB bound, fsync interval) streams to a controller process on SQLite (synchronous=FULL); after ${WARMUP_S} s the controller is killed with SIGKILL and restarted on the same database ${OUTAGE_S} s later. Stored and duplicates are counted in the database (COUNT, COUNT DISTINCT seq); reconnect is from the controller being ready again to the first batch stored (the agent is waiting out its backoff, capped at 30 s by default); drain is from there until the stored ack covers every event produced up to the controller's return. ${machine()}.`,
          "",
          "| outage | produced | stored | duplicates stored | dropped | backlog | reconnect | drain | drain rate | replays deduplicated | agent peak RSS |",
          "|---|---|---|---|---|---|---|---|---|---|---|",
          `| ${OUTAGE_S} s | ${produced} | ${totals.count} | ${duplicates} | ${dropped} | ${backlog} events | ${reconnectS.toFixed(1)} s | ${drainS.toFixed(1)} s | ${drainRate} events/s | ${replays} | ${(peakAgentRss / MiB).toFixed(0)} MiB |`,
          "",
          "The backlog lives in the agent's disk spool, not in memory (agent peak RSS is sampled over the outage and the drain, when up to 8 leased batches of ≤ 500 events are in flight); the controller stores one batch per stream at a time, in group-committed transactions.",
        ].join("\n"),
      );
    }
    process.stdout.write(`outage: produced ${produced}, stored ${totals.count}, duplicates ${duplicates}, dropped ${dropped}, drain ${drainS.toFixed(1)} s\n`);
    if (duplicates !== 0 || dropped !== 0 || totals.count + dropped !== produced) process.exitCode = 1;
  } finally {
    await agent.stop("SIGKILL");
    await ctl.stop("SIGTERM");
    await db.close();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`outage benchmark failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
