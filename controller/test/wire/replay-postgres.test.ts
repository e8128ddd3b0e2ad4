import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgDatabase, startTestController, type TestController } from "../support/controller";
import { RawAgent } from "../support/raw-agent";
import { waitFor } from "../support/wait";

/**
 * On PostgreSQL the store does not ask which rows were new (RETURNING halves insert
 * throughput); replays are told apart by the agent's previous ack. A replay after a
 * lost ack must still be stored once and not be handed to detection again.
 */
describe("replayed batch on PostgreSQL", () => {
  let ctl: TestController;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createPgDatabase();
    drop = db.drop;
    ctl = await startTestController({ databaseUrl: db.url });
  });
  afterAll(async () => {
    await ctl?.dispose();
    await drop?.();
  });

  it("stores once, and marks only the new events fresh", async () => {
    const fresh: number[] = [];
    ctl.writer.onStored((b) => b.events.forEach((e, i) => b.fresh[i] && b.agentId === "pg-replay" && fresh.push(e.seq)));
    const a = new RawAgent(ctl.grpcPort);
    a.hello("pg-replay");
    await waitFor("welcome", () => a.received.length > 0);
    a.events(1, 50);
    await waitFor("ack 50", () => a.lastAck() === 50);
    a.close();
    const b = new RawAgent(ctl.grpcPort);
    b.hello("pg-replay");
    await waitFor("welcome", () => b.received.length > 0);
    b.events(1, 60); // the agent never got the ack: it replays 1-50 and adds 51-60
    await waitFor("ack 60", () => b.lastAck() === 60);
    b.close();
    expect(await ctl.store.countForAgent("pg-replay")).toBe(60);
    expect(fresh).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  });
});
