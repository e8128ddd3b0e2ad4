/**
 * Issue #12, "done when": a brute force spread over 5 agents connected to different replicas fires
 * its event_count correlation exactly once. Three `vigil-controller serve` processes in
 * distributed mode (real NATS JetStream and PostgreSQL, a prefix and database of this file's own):
 * agents' batches go through JetStream to the storage workers, the stored failures are matched on
 * whichever replica stored them, routed by source IP to the owner of the group, and fired there.
 * Then the owner is killed with -9: another replica takes its correlation partition, replays the
 * inputs, fires again, and that firing is recognised (the alert is revised, not repeated).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBus, connectBus } from "../../src/bus/nats-connection";
import { partitionOf } from "../../src/bus/partition";
import { BusNames, deleteAllWithPrefix } from "../../src/bus/streams";
import { createPgDatabase } from "../support/controller";
import { freePort, startControllerProcess, type ControllerProcess } from "../support/controller-process";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";
import { BRUTE_FORCE, send, sshFailure } from "../detection/support";

const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const PARTITIONS = 4;
const prefix = `cr${randomBytes(4).toString("hex")}`;
const names = new BusNames(prefix);

describe("correlation across replica processes (distributed mode)", () => {
  let pg: Awaited<ReturnType<typeof createPgDatabase>>;
  let sql: Client;
  const dirs: string[] = [];
  const replicas: { id: string; proc: ControllerProcess }[] = [];
  const agents: RawAgent[] = [];

  async function start(id: string): Promise<void> {
    const dataDir = mkdtempSync(join(tmpdir(), "vigil-cr-"));
    dirs.push(dataDir);
    const proc = await startControllerProcess({
      grpcPort: await freePort(),
      dataDir,
      databaseUrl: pg.url,
      env: {
        VIGIL_NATS_URL: NATS_URL,
        VIGIL_NATS_PREFIX: prefix,
        VIGIL_PARTITIONS: String(PARTITIONS),
        VIGIL_PARTITION_LEASE_TTL: "2s",
        VIGIL_REPLICA_ID: id,
        VIGIL_SIGMAHQ_PACK: "off",
        VIGIL_DETECTION_IDLE_TICK: "200ms",
      },
      readyTimeoutMs: 60_000,
    });
    replicas.push({ id, proc });
  }

  beforeAll(async () => {
    pg = await createPgDatabase();
    await start("cr-a"); // migrates the database first
    await Promise.all([start("cr-b"), start("cr-c")]);
    sql = new Client({ connectionString: pg.url });
    await sql.connect();
  }, 120_000);

  afterAll(async () => {
    for (const a of agents) a.close();
    await Promise.all(replicas.map((r) => r.proc.stop()));
    await sql?.end();
    const nc = await connectBus({ url: NATS_URL, name: "correlation-replicas-cleanup", log: () => undefined });
    await deleteAllWithPrefix(nc, names);
    await closeBus(nc);
    await pg?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const bruteForceAlerts = async (ip: string) =>
    (await sql.query(`SELECT id, count, updated_at FROM alerts WHERE rule_id = $1 AND entity_value = $2`, [BRUTE_FORCE, ip])).rows as { id: string; count: number; updated_at: string }[];

  it("a brute force spread over 5 agents on different replicas fires its event_count correlation exactly once, and once still after its owner is killed", async () => {
    const ip = "198.51.100.250";
    // A minute into a 10-minute span, minutes ago: every hit of the brute force falls in one dedup span.
    const t0 = Math.floor((Date.now() - 5 * 60_000) / 600_000) * 600_000 + 60_000;
    // Five agents over the three replicas, two failed logins each: no host, and no replica, sees five.
    for (let i = 0; i < 5; i++) {
      const a = new RawAgent(replicas[i % 3].proc.grpcPort);
      agents.push(a);
      a.hello(`cr-agent-${i}`);
      await waitFor("welcome", () => a.received.some((m) => m.msg?.$case === "welcome"), 30_000);
      await send(a, 1, [sshFailure(t0 + i * 1_000, ip, `u${i}`), sshFailure(t0 + (5 + i) * 1_000, ip, `u${i}`)]);
    }
    await waitFor("all ten failures stored", async () => Number((await sql.query(`SELECT count(*) AS n FROM events WHERE type = 'auth'`)).rows[0].n) >= 10, 60_000);
    await waitFor("the brute force alert", async () => (await bruteForceAlerts(ip)).length > 0, 60_000);
    // Exactly once: every input has reached its owner by now (the alert needs five), and nothing adds a second.
    const first = await bruteForceAlerts(ip);
    expect(first).toHaveLength(1);
    expect(Number(first[0].count)).toBe(1);
    const hosts = (await sql.query(`SELECT entities FROM alerts WHERE id = $1`, [first[0].id])).rows[0].entities as string;
    expect((JSON.parse(hosts) as string[]).filter((e) => e.startsWith("host:")).length).toBeGreaterThanOrEqual(2);

    // Kill -9 the replica that owns the group's correlation partition.
    const nc = await connectBus({ url: NATS_URL, name: "correlation-replicas-test", log: () => undefined });
    try {
      const kv = await new Kvm(nc).open(names.leaseBucket("corr"));
      const p = partitionOf(`${BRUTE_FORCE}|${JSON.stringify([ip])}`, PARTITIONS);
      // A lease's value is "<replica id>/<token of that process>" (bus/partition-leases.ts).
      const holderId = (value: string | undefined) => value?.split("/")[0];
      const ownerId = holderId((await kv.get(`part.${p}`))?.string());
      const owner = replicas.find((r) => r.id === ownerId);
      expect(owner).toBeDefined();
      const killedAt = Date.now();
      await owner!.proc.stop("SIGKILL");
      // Another replica takes the partition (after the lease TTL), replays its inputs and fires again: the firing is recognised and revises the alert.
      await waitFor(
        "another replica owns the partition",
        async () => {
          const v = holderId((await kv.get(`part.${p}`))?.string());
          return v !== undefined && v !== ownerId && v !== "";
        },
        60_000,
      );
      await waitFor("the replayed firing reached the alert", async () => Number((await bruteForceAlerts(ip))[0].updated_at) > killedAt, 60_000);
    } finally {
      await closeBus(nc);
    }
    const after = await bruteForceAlerts(ip);
    expect(after).toHaveLength(1);
    expect(after[0].id).toBe(first[0].id);
    expect(Number(after[0].count)).toBe(1);
  }, 240_000);
});
