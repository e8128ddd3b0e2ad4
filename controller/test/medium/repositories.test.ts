import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { DataSource, type DataSourceOptions } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataSourceOptions } from "../../src/database/data-source";
import { AlertEntity } from "../../src/database/entities/alert.entity";
import { SqlCaseRepository, type CaseRecord } from "../../src/database/repositories/case-repository";
import { InventoryRepository } from "../../src/database/repositories/inventory-repository";
import { SqlBatch } from "../../src/database/sql-batch";
import { PG_ADMIN_URL } from "../support/controller";

/**
 * The "medium" tier: repositories' named methods against real databases, schema built by the real
 * migrations. SQLite in a temp file; PostgreSQL (127.0.0.1:5432, db `test`) in a schema of its own,
 * dropped afterwards.
 */
interface Db {
  open(): Promise<DataSource>;
  close(): Promise<void>;
}

function sqliteDb(): Db {
  const dir = mkdtempSync(join(tmpdir(), "vigil-medium-"));
  let ds: DataSource | undefined;
  return {
    open: async () => {
      ds = new DataSource(dataSourceOptions({ url: `sqlite:${join(dir, "vigil.db")}` }));
      await ds.initialize();
      await ds.runMigrations();
      return ds;
    },
    close: async () => {
      await ds?.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresDb(): Db {
  const schema = `vigil_medium_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  let ds: DataSource | undefined;
  const admin = async (sql: string): Promise<void> => {
    const c = new Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  return {
    open: async () => {
      await admin(`CREATE SCHEMA ${schema}`);
      const base = dataSourceOptions({ url: PG_ADMIN_URL }) as DataSourceOptions & { extra?: Record<string, unknown> };
      // Unqualified SQL (the repositories') and the migrations both land in the test's own schema.
      ds = new DataSource({ ...base, schema, extra: { ...base.extra, options: `-c search_path=${schema}` } } as DataSourceOptions);
      await ds.initialize();
      await ds.runMigrations();
      return ds;
    },
    close: async () => {
      await ds?.destroy();
      await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

const record = (over: Partial<CaseRecord> = {}): CaseRecord => ({
  id: "00000000-0000-4000-8000-000000000001",
  title: "Reverse shell on web-1",
  state: "new",
  score: 70,
  entities: ["host:agent-1", "ip:203.0.113.5"],
  alertCount: 1,
  firstSeen: 1_700_000_000_000,
  lastSeen: 1_700_000_060_000,
  createdAt: 1_700_000_100_000,
  ...over,
});

function alertRow(id: string, caseId: string, verdict: AlertEntity["verdict"]): Partial<AlertEntity> {
  return {
    id, ruleId: "r1", ruleTitle: "Reverse shell", ruleLevel: "high", ruleTags: [], kind: "match", correlationType: null,
    agentId: "agent-1", hostname: "web-1", entityKind: "host", entityValue: "agent-1", entities: ["host:agent-1"], dedupKey: id,
    score: 70, breakdown: [], count: 1, firstSeen: 1, lastSeen: 2, createdAt: 3, updatedAt: 3, state: "new", verdict, caseId,
    eventRefs: [], eventFields: [], groupBy: null, iocHits: [],
  };
}

describe.each([
  { engine: "sqlite", make: sqliteDb },
  { engine: "postgres", make: postgresDb },
])("repositories on $engine", ({ make }) => {
  const db = make();
  let ds: DataSource;
  beforeAll(async () => {
    ds = await db.open();
  });
  afterAll(async () => {
    await db.close();
  });

  it(`cases: insert and update writes commit through the batch; unresolved and byId read them back`, async () => {
    const batch = new SqlBatch(ds);
    const cases = SqlCaseRepository.of(ds, batch);
    const c = record();
    await batch.run([cases.insertWrite(c, 1_700_000_200_000)]);
    expect(await cases.byId(c.id)).toMatchObject({ id: c.id, title: c.title, state: "new", verdict: null, score: 70, entities: c.entities, alertCount: 1, firstSeen: c.firstSeen, lastSeen: c.lastSeen, updatedAt: 1_700_000_200_000 });

    await batch.run([cases.updateWrite({ ...c, score: 90, alertCount: 2, lastSeen: c.lastSeen + 1, entities: [...c.entities, "user:root"] }, 1_700_000_300_000)]);
    const updated = await cases.byId(c.id);
    expect(updated).toMatchObject({ score: 90, alertCount: 2, lastSeen: c.lastSeen + 1, entities: [...c.entities, "user:root"], updatedAt: 1_700_000_300_000 });
    expect((await cases.unresolved()).map((r) => r.id)).toEqual([c.id]);
    expect(await cases.byId("00000000-0000-4000-8000-00000000ffff")).toBeNull();
  });

  it(`cases: resolving sets state, verdict and actor and resolves the case's open alerts only`, async () => {
    const batch = new SqlBatch(ds);
    const cases = SqlCaseRepository.of(ds, batch);
    const c = record({ id: "00000000-0000-4000-8000-000000000002" });
    const other = record({ id: "00000000-0000-4000-8000-000000000003" });
    await batch.run([cases.insertWrite(c, 1), cases.insertWrite(other, 1)]);
    const alerts = ds.getRepository(AlertEntity);
    await alerts.insert([alertRow("a-open", c.id, null), alertRow("a-judged", c.id, "false_positive"), alertRow("a-other", other.id, null)]);

    await cases.setState(c.id, { state: "resolved", verdict: "true_positive", alertVerdict: "true_positive", resolvedBy: "alice", now: 99 });
    expect(await cases.byId(c.id)).toMatchObject({ state: "resolved", verdict: "true_positive", resolvedBy: "alice", updatedAt: 99 });
    const byId = new Map((await alerts.find()).map((a) => [a.id, a]));
    expect(byId.get("a-open")).toMatchObject({ state: "resolved", verdict: "true_positive", updatedAt: 99 });
    expect(byId.get("a-judged")).toMatchObject({ state: "resolved", verdict: "false_positive" });
    expect(byId.get("a-other")).toMatchObject({ state: "new", verdict: null });
    expect((await cases.unresolved()).map((r) => r.id)).not.toContain(c.id);

    await cases.setState(other.id, { state: "acknowledged", verdict: null, alertVerdict: null, resolvedBy: null, now: 100 });
    expect(await cases.byId(other.id)).toMatchObject({ state: "acknowledged", verdict: null });
    expect((await alerts.findOneByOrFail({ id: "a-other" })).state).toBe("new");
  });

  it(`inventories: upsert replaces the agent's row, get reads every field back`, async () => {
    const inv = new InventoryRepository(ds);
    await inv.upsert({ agentId: "agent-1", collectedAt: 10, receivedAt: 11, reason: "start", body: { uid: 0, packages: ["a"] } });
    await inv.upsert({ agentId: "agent-1", collectedAt: 20, receivedAt: 21, reason: "periodic", body: { uid: 0, packages: ["a", "b"] } });
    expect(await inv.get("agent-1")).toEqual({ agentId: "agent-1", collectedAt: 20, receivedAt: 21, reason: "periodic", body: { uid: 0, packages: ["a", "b"] } });
    expect(await inv.get("agent-2")).toBeUndefined();
  });
});
