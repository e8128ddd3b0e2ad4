import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import { createDataSource } from "../../src/database/data-source";
import type { WebhookDestinationEntity } from "../../src/database/entities/webhook.entities";
import { WebhookRepository, type NewDelivery } from "../../src/database/repositories/webhook-repository";
import { DeliveryWorker } from "../../src/webhooks/delivery-worker";
import { Receiver } from "../integrations/support";
import { createPgDatabase } from "../support/controller";
import { waitFor } from "../support/wait";

/**
 * Three delivery workers (three replicas' worth: each its own connection pool) on one PostgreSQL
 * outbox: every delivery reaches the receiver exactly once. Without claims each worker would read
 * the same due rows and send them all.
 */
describe("webhook outbox shared by several workers (PostgreSQL)", () => {
  const sources: DataSource[] = [];
  let drop: () => Promise<void>;
  let rx: Receiver;

  beforeAll(async () => {
    const pg = await createPgDatabase();
    drop = pg.drop;
    for (let i = 0; i < 3; i++) {
      const ds = createDataSource({ url: pg.url });
      await ds.initialize();
      if (i === 0) await ds.runMigrations({ transaction: "each" });
      sources.push(ds);
    }
    rx = await new Receiver().start();
  });
  afterAll(async () => {
    for (const ds of sources) await ds.destroy();
    await rx?.close();
    await drop?.();
  });

  it("claims each due row for one worker: 90 deliveries, 3 workers, each received once", async () => {
    const now = Date.now();
    const dest: WebhookDestinationEntity = {
      id: "00000000-0000-4000-8000-00000000c1a1",
      name: "claims",
      url: `${rx.url}/hook`,
      format: "generic",
      topics: ["alerts"],
      minScore: 0,
      ruleTags: [],
      secret: "s".repeat(32),
      routingKey: null,
      enabled: true,
      createdAt: now,
      updatedAt: now,
      createdBy: "test",
    };
    const repos = sources.map((ds) => WebhookRepository.of(ds));
    await repos[0]!.insertDestination(dest);
    const rows: NewDelivery[] = Array.from({ length: 90 }, (_, i) => ({
      destinationId: dest.id,
      topic: "alerts",
      noticeType: "alert.created",
      noticeJson: JSON.stringify({ topic: "alerts", type: "alert.created", time: now, data: { n: i } }),
      state: "pending",
      attempts: 0,
      nextAttemptAt: now,
      lastStatus: null,
      lastError: null,
      createdAt: now,
      updatedAt: now,
    }));
    await repos[0]!.enqueue(rows);

    const sentBy = [0, 0, 0];
    const workers = repos.map(
      (repo, i) =>
        new DeliveryWorker(
          repo,
          () => dest,
          { concurrency: 8, maxAttempts: 3, baseDelayMs: 1_000, maxDelayMs: 1_000, timeoutMs: 5_000, keepDeliveredMs: 3600_000 },
          (o) => {
            if (o === "delivered") sentBy[i]!++;
          },
        ),
    );
    for (const w of workers) w.start();
    try {
      await waitFor("all 90 delivered", async () => (await repos[0]!.countByState()).find((r) => r.state === "delivered")?.n === 90, 30_000);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
    const ids = rx.at("/hook").map((r) => r.headers["x-vigil-delivery"]);
    console.log("outbox claims: deliveries sent by each worker", sentBy);
    expect(ids).toHaveLength(90);
    expect(new Set(ids).size).toBe(90);
    expect(sentBy.reduce((a, b) => a + b, 0)).toBe(90);
  });

  it("a claim hides a row from other workers until its lease ends; then it is due again", async () => {
    const [r0, r1] = repos();
    const now = Date.now();
    await r0.enqueue([
      {
        destinationId: "00000000-0000-4000-8000-00000000c1a1",
        topic: "alerts",
        noticeType: "alert.created",
        noticeJson: "{}",
        state: "pending",
        attempts: 0,
        nextAttemptAt: now,
        lastStatus: null,
        lastError: null,
        createdAt: now,
        updatedAt: now,
      },
    ]);
    const [claimed, again] = await Promise.all([r0.claimDue(now, 10, 60_000), r1.claimDue(now, 10, 60_000)]);
    expect(claimed.length + again.length).toBe(1);
    // The claimer died mid-send: after its lease the row is due for anyone.
    expect(await r1.claimDue(now + 59_000, 10, 60_000)).toHaveLength(0);
    expect(await r1.claimDue(now + 61_000, 10, 60_000)).toHaveLength(1);
  });

  function repos(): [WebhookRepository, WebhookRepository] {
    return [WebhookRepository.of(sources[0]!), WebhookRepository.of(sources[1]!)];
  }
});
