/**
 * Correlations across replicas (issue #12): two controllers in this process sharing one PostgreSQL
 * database and one NATS JetStream (real ones, with a prefix and database of this test's own), each
 * with the JetStream correlation router. Agents on both replicas feed one brute force; the owner
 * of its group fires it once; when the owner stops, the other replica takes its partitions,
 * replays their inputs, rebuilds the windows and fires again, and that firing is recognised: still
 * one alert. (dist-ingest's replica harness runs the same with replica processes and kill -9.)
 */
import { randomBytes } from "node:crypto";
import { connect as natsConnect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { partitionOf } from "../../src/bus/partition";
import { BusNames, deleteAllWithPrefix } from "../../src/bus/streams";
import { JetStreamCorrelationRouter } from "../../src/detection/jetstream-correlation-router";
import { createPgDatabase, startTestController, type TestController } from "../support/controller";
import { request } from "../support/http";
import type { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";
import { BRUTE_FORCE, clock, connect, send, sshFailure } from "./support";

const NATS_URL = process.env.VIGIL_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const PARTITIONS = 4;

describe("correlation across replicas (JetStream router, shared PostgreSQL)", () => {
  let nc: NatsConnection;
  let names: BusNames;
  let db: { url: string; drop: () => Promise<void> };
  const replicas: { ctl: TestController; router: JetStreamCorrelationRouter; stopped: boolean }[] = [];
  const agents: RawAgent[] = [];

  async function replica(id: string) {
    const router = new JetStreamCorrelationRouter({ nc, names, partitions: PARTITIONS, replicaId: id, leaseTtlMs: 3_000, log: () => undefined });
    const ctl = await startTestController({ databaseUrl: db.url, detection: { idleTickMs: 200 }, correlationRouter: router });
    const r = { ctl, router, stopped: false };
    replicas.push(r);
    return r;
  }

  beforeAll(async () => {
    nc = await natsConnect({ servers: NATS_URL });
    names = new BusNames(`dc${randomBytes(4).toString("hex")}`);
    db = await createPgDatabase();
    await replica("replica-a"); // migrates the database first
    await replica("replica-b");
    // Leases settle to a fair share: two partitions each.
    await waitFor("partitions shared by both replicas", () => replicas.every((r) => r.router.ownedPartitions().length === PARTITIONS / 2), 30_000);
  }, 90_000);

  afterAll(async () => {
    for (const a of agents) a.close();
    for (const r of replicas) if (!r.stopped) await r.ctl.dispose();
    await deleteAllWithPrefix(nc, names);
    await nc.close();
    await db?.drop();
  });

  it("a brute force spread over 5 agents on two replicas fires its event_count correlation exactly once, and once still after its owner fails over", async () => {
    const ip = "203.0.113.66";
    // Two hours ago (a spool replayed after an outage, say): each group's clock is its hosts' clocks, not the wall clock.
    // A minute into a 10-minute span, so every hit of the brute force falls in one dedup span.
    const t0 = Math.floor((Date.now() - 2 * 3_600_000) / 600_000) * 600_000 + 60_000;
    // Hostile messages on every partition's subject (not JSON; a huge field list; a key of another partition): counted and skipped.
    const { jetstream } = await import("@nats-io/jetstream");
    const js = jetstream(nc);
    const good = { key: 'x|["1"]', anchor: BRUTE_FORCE, target: BRUTE_FORCE, rule: "r", agentId: "a", seq: 1, ev: { logsource: {}, fields: {}, timeMs: t0 } };
    for (let q = 0; q < PARTITIONS; q++) {
      await js.publish(names.corrSubject(q), "{not json", { msgID: `poison-${q}-1` });
      await js.publish(names.corrSubject(q), JSON.stringify({ ...good, ev: { ...good.ev, fields: Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`f${i}`, i])) } }), {
        msgID: `poison-${q}-2`,
      });
      await js.publish(names.corrSubject(q), JSON.stringify({ ...good, key: `k${q}` }), { msgID: `poison-${q}-3` });
    }
    const rejected = () => replicas.reduce((n, r) => n + r.router.stats.rejected, 0);
    // The third is valid only on the partition its key hashes to.
    const misplaced = Array.from({ length: PARTITIONS }, (_, q) => (partitionOf(`k${q}`, PARTITIONS) === q ? 0 : 1)).reduce((n: number, x) => n + x, 0);
    await waitFor("poison messages rejected", () => rejected() === 2 * PARTITIONS + misplaced, 30_000);
    // Five agents, alternately on the two replicas, two failed logins each: no host sees five.
    for (let i = 0; i < 5; i++) {
      const a = await connect(replicas[i % 2].ctl, `spread-${i}`);
      agents.push(a);
      await send(a, 1, [sshFailure(t0 + i * 1_000, ip, `u${i}`), sshFailure(t0 + (5 + i) * 1_000, ip, `u${i}`)]);
    }
    // Each failure feeds two correlations (the brute force and the burst step of brute-force-then-success).
    const received = () => replicas.reduce((n, r) => n + r.router.stats.received, 0);
    await waitFor("20 routed inputs received by the owners", () => received() >= 20 + PARTITIONS - misplaced, 30_000);
    const [a, b] = replicas;
    const alerts = async () => (await request(a.ctl, "GET", `/api/v1/alerts?entity=ip:${ip}`)).body.items as any[];
    await waitFor("the brute force alert", async () => (await alerts()).some((x) => x.rule.id === BRUTE_FORCE), 30_000);
    await Promise.all(replicas.map((r) => r.ctl.detection.pipeline.idle()));
    const first = (await alerts()).filter((x) => x.rule.id === BRUTE_FORCE);
    expect(first).toHaveLength(1);
    expect(first[0].count).toBe(1);
    // Its evidence came from several hosts on both replicas.
    const hosts = first[0].entities.filter((e: { kind: string }) => e.kind === "host").map((e: { value: string }) => e.value);
    expect(hosts.length).toBeGreaterThanOrEqual(2);
    expect(replicas.reduce((n, r) => n + r.ctl.triage.alerts.stats.created, 0)).toBe(1);
    // Each replica reports its share of partitions and what it routed and received.
    const scrape = await (await fetch(`${a.ctl.httpUrl}/metrics`, { headers: { authorization: `Bearer ${a.ctl.adminKey}` } })).text();
    expect(scrape).toMatch(new RegExp(`vigil_correlation_partitions_owned ${PARTITIONS / 2}\\b`));
    expect(scrape).toMatch(new RegExp(`vigil_correlation_inputs\\{outcome="received"\\} ${a.router.stats.received}\\b`));
    expect(scrape).toMatch(new RegExp(`vigil_correlation_inputs\\{outcome="rejected"\\} ${a.router.stats.rejected}\\b`));

    // The hosts' clocks reach the groups' owners through the stream, whichever replica the hosts are
    // on: once every host has sent something newer than the windows, the groups are forgotten.
    expect(replicas.reduce((n, r) => n + r.ctl.detection.pipeline.stats.engines, 0)).toBeGreaterThan(0);
    for (const [i, ag] of agents.entries()) await send(ag, 3, [clock(Date.now() - 1_000 + i)]);
    await waitFor("every group past its windows and forgotten", () => replicas.every((r) => r.ctl.detection.pipeline.stats.engines === 0), 30_000);

    // The owner of the group stops; the other takes its partitions and replays their inputs.
    const p = partitionOf(`${BRUTE_FORCE}|${JSON.stringify([ip])}`, PARTITIONS);
    const owner = a.router.ownedPartitions().includes(p) ? a : b;
    const survivor = owner === a ? b : a;
    const before = survivor.router.stats.received;
    const replayedBefore = survivor.ctl.triage.alerts.stats.replayed;
    owner.stopped = true;
    await owner.ctl.dispose();
    await waitFor("the survivor owns every partition", () => survivor.router.ownedPartitions().length === PARTITIONS, 30_000);
    await waitFor("the group's inputs replayed to the survivor", () => survivor.router.stats.received >= before + 10, 30_000);
    await waitFor("the replayed firing recognised", () => survivor.ctl.triage.alerts.stats.replayed > replayedBefore, 30_000);
    await survivor.ctl.detection.pipeline.idle();
    const after = (await request(survivor.ctl, "GET", `/api/v1/alerts?entity=ip:${ip}`)).body.items.filter((x: { rule: { id: string } }) => x.rule.id === BRUTE_FORCE);
    expect(after).toHaveLength(1);
    expect(after[0].id).toBe(first[0].id);
    expect(after[0].count).toBe(1);
    expect(survivor.ctl.triage.alerts.stats.created).toBe(owner === a ? 0 : 1);
  }, 120_000);
});
