import { afterAll, beforeAll, describe, it } from "vitest";
import { createPgDatabase, startTestController, type TestController } from "../support/controller";
import { runLoopScenario } from "../support/loop-scenario";

describe("end to end: agent → gRPC → controller → SQLite → REST", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController();
  });
  afterAll(async () => ctl?.dispose());

  it("a file, a process, a connection and an auth line appear in GET /api/v1/events", async () => {
    await runLoopScenario(ctl);
  });
});

describe("end to end on PostgreSQL", () => {
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

  it("the same loop stores into PostgreSQL", async () => {
    await runLoopScenario(ctl);
  });
});

describe("end to end with the single-file binary dist/vigil-agent", () => {
  let ctl: TestController;
  beforeAll(async () => {
    ctl = await startTestController();
  });
  afterAll(async () => ctl?.dispose());

  it("the SEA binary runs the same loop", async () => {
    await runLoopScenario(ctl, { binary: true });
  });
});
