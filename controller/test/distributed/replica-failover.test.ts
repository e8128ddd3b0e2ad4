import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus } from "../../src/bus/nats-connection";
import { BusNames, deleteAllWithPrefix } from "../../src/bus/streams";
import { createPgDatabase } from "../support/controller";
import { freePort, startControllerProcess, type ControllerProcess } from "../support/controller-process";
import { issueFleet } from "../support/fleet-certificates";
import { SimAgent } from "../support/mtls-fleet";
import { waitFor } from "../support/wait";

/**
 * Issue #12's failover test: three controller replicas (real processes) on one PostgreSQL database
 * and one NATS JetStream, 200 agents streaming over real mTLS gRPC (an in-process fleet speaking
 * the agent protocol; 200 agent processes do not fit here), one replica killed with -9 mid-stream.
 * Its agents reconnect to the others; every event is stored exactly once.
 */
const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const AGENTS = 200;
const EVENTS = 90;
const prefix = `tf${randomBytes(4).toString("hex")}`;

let pg: Awaited<ReturnType<typeof createPgDatabase>>;
let dataDir: string;
const replicas: ControllerProcess[] = [];
let fleet: SimAgent[] = [];

beforeAll(async () => {
  pg = await createPgDatabase();
  dataDir = mkdtempSync(join(tmpdir(), "vigil-replicas-"));
});

afterAll(async () => {
  for (const a of fleet) a.stop();
  await Promise.all(replicas.map((r) => r.stop("SIGKILL")));
  const nc = await connectBus({ url: NATS_URL, name: "replica-failover-cleanup", log: () => undefined });
  await deleteAllWithPrefix(nc, new BusNames(prefix));
  await closeBus(nc);
  await pg?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function startReplica(n: number): Promise<ControllerProcess> {
  const r = await startControllerProcess({
    grpcPort: await freePort(),
    // One data dir for the three: they share the CA, the command-signing key and the audit key, as replicas must.
    dataDir,
    databaseUrl: pg.url,
    env: {
      VIGIL_INSECURE_GRPC: "0",
      VIGIL_NATS_URL: NATS_URL,
      VIGIL_NATS_PREFIX: prefix,
      VIGIL_PARTITIONS: "8",
      VIGIL_PARTITION_LEASE_TTL: "3s",
      VIGIL_REPLICA_ID: `replica-${n}`,
      // Storage is under test, not the 3,000-rule SigmaHQ pack each replica would compile at start.
      VIGIL_SIGMAHQ_PACK: "off",
    },
    readyTimeoutMs: 60_000,
  });
  replicas.push(r);
  return r;
}

describe("three replicas, 200 mTLS agents, one replica killed with -9", () => {
  it("loses nothing and stores nothing twice", { timeout: 150_000 }, async () => {
    const t0 = Date.now();
    // Phase times on stderr: where the time goes when this runs slow on a loaded machine.
    const phase = (what: string) => process.stderr.write(`[replica-failover] ${((Date.now() - t0) / 1000).toFixed(1)}s ${what}\n`);
    // The first replica migrates the database and creates the CA; the others start on it.
    const r1 = await startReplica(1);
    const [r2, r3] = await Promise.all([startReplica(2), startReplica(3)]);
    phase("replicas ready");
    const caPem = readFileSync(join(dataDir, "ca", "ca.crt"), "utf8");
    const addresses = [r1, r2, r3].map((r) => `localhost:${r.grpcPort}`);
    const ids = await issueFleet(pg.url, join(dataDir, "ca"), AGENTS);
    phase("fleet issued");

    fleet = ids.map((id, i) => new SimAgent({ id, caPem, addresses, first: i, total: EVENTS, perTick: 3, tickMs: 100, index: i, reconnectMs: [50, 300] }));
    for (const a of fleet) a.start();
    const acked = () => fleet.reduce((n, a) => n + a.acked, 0);
    await waitFor("a third of the events acked", () => acked() >= (AGENTS * EVENTS) / 3, 60_000);

    // Mid-stream: replica 2 dies without a word (no lease release, no drain).
    const ackedAtKill = acked();
    await r2.stop("SIGKILL");
    phase(`replica 2 killed at ${ackedAtKill} acked`);
    expect(ackedAtKill).toBeLessThan(AGENTS * EVENTS);

    await waitFor("every agent to have all its events acked", () => fleet.every((a) => a.done), 60_000, 200).catch((e: Error) => {
      throw new Error(`${e.message}: ${acked()} of ${AGENTS * EVENTS} acked; ${fleet.filter((a) => !a.done).length} agents behind`);
    });
    phase("all acked");
    const pgc = new Client({ connectionString: pg.url });
    await pgc.connect();
    try {
      await waitFor("every acked event stored", async () => Number((await pgc.query<{ n: string }>("SELECT COUNT(*) AS n FROM events")).rows[0].n) >= AGENTS * EVENTS, 60_000, 250).catch(
        async (e: Error) => {
          const n = (await pgc.query<{ n: string }>("SELECT COUNT(*) AS n FROM events")).rows[0].n;
          const offsets = (await pgc.query("SELECT part, seq FROM stream_offsets ORDER BY part")).rows;
          const file = join(tmpdir(), `vigil-replica-failover-${process.pid}.log`);
          writeFileSync(file, [r1, r3].map((r, i) => `--- replica ${i ? 3 : 1}\n${r.output()}`).join("\n"));
          const health = await Promise.all(
            [r1, r3].map((r) =>
              r.get("/api/v1/healthz").then(
                (h) => JSON.stringify(h.body).slice(0, 1500),
                (err: Error) => err.message,
              ),
            ),
          );
          throw new Error(`${e.message}: ${n} stored; offsets ${JSON.stringify(offsets)}; health ${health.join(" | ")}; replica logs in ${file}`);
        },
      );
      phase("all stored");
      const perAgent = await pgc.query<{ agent_id: string; n: string; d: string; lo: string; hi: string }>(
        "SELECT agent_id, COUNT(*) AS n, COUNT(DISTINCT seq) AS d, MIN(seq) AS lo, MAX(seq) AS hi FROM events GROUP BY agent_id",
      );
      expect(perAgent.rows).toHaveLength(AGENTS);
      const wrong = perAgent.rows.filter((r) => Number(r.n) !== EVENTS || Number(r.d) !== EVENTS || Number(r.lo) !== 1 || Number(r.hi) !== EVENTS);
      expect(wrong).toEqual([]);
      // No agent's cursor recorded a gap: nothing was skipped on the way.
      await waitFor("cursors at the end", async () => {
        const c = await pgc.query<{ n: string }>("SELECT COUNT(*) AS n FROM agents WHERE acked_seq = $1 AND missing_events = 0", [EVENTS]);
        return Number(c.rows[0].n) === AGENTS;
      }).catch(async (e: Error) => {
        const off = (await pgc.query("SELECT id, acked_seq, last_seq, missing_events, gaps FROM agents WHERE acked_seq <> $1 OR missing_events <> 0 LIMIT 5", [EVENTS])).rows;
        throw new Error(`${e.message}: ${JSON.stringify(off)}`);
      });
    } finally {
      await pgc.end();
    }
    // No agent was ever told to resume below what it had been acked (a false gap or a lost event).
    expect(fleet.filter((a) => a.forgotten > 0).map((a) => a.agentId)).toEqual([]);
    // The killed replica's agents (a third of the fleet) came back through the others.
    expect(fleet.filter((a) => a.connects > 1).length).toBeGreaterThanOrEqual(AGENTS / 3 - 1);
    // The surviving replicas took over the dead one's partitions.
    const health = await Promise.all([r1, r3].map((r) => r.get("/api/v1/healthz")));
    const owned = health.flatMap((h) => (h.body as { distributed: { partitions: number[] } }).distributed.partitions).sort((a, b) => a - b);
    expect(owned).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});
