import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataSourceOptions } from "../../src/database/data-source";
import { AlertEntity } from "../../src/database/entities/alert.entity";
import { Hello } from "@vigil/proto";
import { AgentRegistry } from "../../src/agents/agent-registry";
import { SqlAgentRepository } from "../../src/database/repositories/agent-repository";
import { SqlAlertRepository, type NewAlertRow } from "../../src/database/repositories/alert-repository";
import { SqlCaseRepository, type CaseRecord } from "../../src/database/repositories/case-repository";
import { SqlCommandRepository } from "../../src/database/repositories/command-repository";
import { WebhookRepository } from "../../src/database/repositories/webhook-repository";
import { PlaybookRepository } from "../../src/database/repositories/playbook-repository";
import { PolicyRepository } from "../../src/database/repositories/policy-repository";
import { RuleRepository } from "../../src/database/repositories/rule-repository";
import { EntityRiskRepository } from "../../src/database/repositories/entity-risk-repository";
import { EventStore } from "../../src/database/repositories/event-store";
import { FeedbackWeightRepository } from "../../src/database/repositories/feedback-weight-repository";
import { LoginBaselineRepository } from "../../src/database/repositories/login-baseline-repository";
import { SuppressionRepository } from "../../src/database/repositories/suppression-repository";
import { InventoryRepository } from "../../src/database/repositories/inventory-repository";
import { SqlBatch } from "../../src/database/sql-batch";
import { ApiKeyRepository } from "../../src/database/repositories/api-key-repository";
import { AuditRepository, type StoredAuditRecord } from "../../src/database/repositories/audit-repository";
import { CertificateRepository } from "../../src/database/repositories/certificate-repository";
import { EnrollmentTokenRepository } from "../../src/database/repositories/enrollment-token-repository";
import { IocRepository } from "../../src/database/repositories/ioc-repository";
import { createPgSchema, type PgSchema } from "../support/pg-schema";

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
  let schema: PgSchema | undefined;
  let ds: DataSource | undefined;
  return {
    open: async () => {
      schema = await createPgSchema();
      ds = new DataSource(schema.options());
      await ds.initialize();
      await ds.runMigrations();
      return ds;
    },
    close: async () => {
      await ds?.destroy();
      await schema?.drop();
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

function alertRow(id: string, caseId: string): NewAlertRow {
  return {
    id,
    ruleId: "r1",
    ruleTitle: "Reverse shell",
    ruleLevel: "high",
    ruleTags: [],
    kind: "match",
    correlationType: null,
    agentId: "agent-1",
    hostname: "web-1",
    entityKind: "host",
    entityValue: "agent-1",
    entities: ["host:agent-1"],
    dedupKey: id,
    score: 70,
    breakdown: [],
    count: 1,
    firstSeen: 1,
    lastSeen: 2,
    createdAt: 3,
    caseId,
    eventRefs: [],
    eventFields: [],
    groupBy: null,
    iocHits: [],
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
    expect(await cases.byId(c.id)).toMatchObject({
      id: c.id,
      title: c.title,
      state: "new",
      verdict: null,
      score: 70,
      entities: c.entities,
      alertCount: 1,
      firstSeen: c.firstSeen,
      lastSeen: c.lastSeen,
      updatedAt: 1_700_000_200_000,
    });

    await batch.run([cases.updateWrite({ ...c, title: "not written", score: 90, alertCount: 2, lastSeen: c.lastSeen + 1, entities: [...c.entities, "user:root"] }, 1_700_000_300_000)]);
    const updated = await cases.byId(c.id);
    expect(updated).toMatchObject({ title: c.title, score: 90, alertCount: 2, lastSeen: c.lastSeen + 1, entities: [...c.entities, "user:root"], updatedAt: 1_700_000_300_000 });
    expect((await cases.unresolved()).map((r) => r.id)).toEqual([c.id]);
    expect(await cases.byId("00000000-0000-4000-8000-00000000ffff")).toBeNull();
    await cases.rename(c.id, "Renamed by an analyst", 1_700_000_400_000);
    expect(await cases.byId(c.id)).toMatchObject({ title: "Renamed by an analyst", score: 90, updatedAt: 1_700_000_400_000 });
  });

  it(`cases: resolving sets state, verdict and actor and resolves the case's open alerts only`, async () => {
    const batch = new SqlBatch(ds);
    const cases = SqlCaseRepository.of(ds, batch);
    const c = record({ id: "00000000-0000-4000-8000-000000000002" });
    const other = record({ id: "00000000-0000-4000-8000-000000000003" });
    await batch.run([cases.insertWrite(c, 1), cases.insertWrite(other, 1)]);
    const alertRepo = SqlAlertRepository.of(ds, batch);
    await alertRepo.upsertBatch([alertRow("a-open", c.id), alertRow("a-judged", c.id), alertRow("a-other", other.id)], [], [], 3);
    await alertRepo.setVerdict("a-judged", "false_positive", "new", 4, []);
    const alerts = ds.getRepository(AlertEntity);

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

  it(`alerts: upsertBatch inserts, merges and commits the chunk's other writes together; openByDedupKey finds the newest unresolved`, async () => {
    const batch = new SqlBatch(ds);
    const alerts = SqlAlertRepository.of(ds, batch);
    const cases = SqlCaseRepository.of(ds, batch);
    const c = record({ id: "00000000-0000-4000-8000-000000000010" });
    const row: NewAlertRow = {
      id: "00000000-0000-4000-8000-0000000000a1",
      ruleId: "ssh-brute",
      ruleTitle: "SSH brute force",
      ruleLevel: "high",
      ruleTags: ["attack.t1110"],
      kind: "match",
      correlationType: null,
      agentId: "agent-1",
      hostname: "h".repeat(300),
      entityKind: "ip",
      entityValue: "203.0.113.5",
      entities: ["ip:203.0.113.5", "host:agent-1"],
      dedupKey: "ssh-brute|ip:203.0.113.5|agent-1",
      score: 64,
      breakdown: [],
      count: 1,
      firstSeen: 1_000,
      lastSeen: 2_000,
      createdAt: 3_000,
      caseId: c.id,
      eventRefs: [{ agentId: "agent-1", seq: 7, timeMs: 1_000 }],
      eventFields: [{ User: "root" }],
      groupBy: { SourceIp: "203.0.113.5" },
      iocHits: [],
    };
    await alerts.upsertBatch([row], [], [cases.insertWrite(c, 3_000)], 3_000);
    const stored = await alerts.byId(row.id);
    expect(stored).toMatchObject({ ruleId: "ssh-brute", state: "new", verdict: null, caseId: c.id, score: 64, groupBy: { SourceIp: "203.0.113.5" }, eventRefs: row.eventRefs });
    expect(stored?.hostname).toHaveLength(255);
    expect(await cases.byId(c.id)).not.toBeNull();
    expect(await alerts.openByDedupKey(row.dedupKey)).toEqual({ id: row.id, firstSeen: 1_000, lastSeen: 2_000, count: 1, state: "new", eventRefs: row.eventRefs, eventFields: row.eventFields });

    const refs = [...row.eventRefs, { agentId: "agent-1", seq: 9, timeMs: 5_000 }];
    await alerts.upsertBatch([], [{ id: row.id, count: 2, firstSeen: 1_000, lastSeen: 5_000, eventRefs: refs, eventFields: row.eventFields }], [], 6_000);
    expect(await alerts.byId(row.id)).toMatchObject({ count: 2, lastSeen: 5_000, updatedAt: 6_000, eventRefs: refs });

    // One failing statement rolls back the whole chunk: the new alert is not stored either.
    const bad = { ...row, id: "00000000-0000-4000-8000-0000000000a2", dedupKey: "other" };
    await expect(alerts.upsertBatch([bad], [], [cases.insertWrite(c, 7_000)], 7_000)).rejects.toThrow();
    expect(await alerts.byId(bad.id)).toBeNull();

    await alerts.acknowledge(row.id, 8_000);
    expect((await alerts.byId(row.id))?.state).toBe("acknowledged");
    await alerts.setVerdict(row.id, "false_positive", "resolved", 9_000, []);
    expect(await alerts.byId(row.id)).toMatchObject({ state: "resolved", verdict: "false_positive", updatedAt: 9_000 });
    expect(await alerts.openByDedupKey(row.dedupKey)).toBeUndefined();
    await alerts.acknowledge(row.id, 10_000);
    expect((await alerts.byId(row.id))?.state).toBe("resolved");

    const first = await alerts.recordFeedback({
      alertId: row.id,
      ruleId: "ssh-brute",
      entityKey: "ip:203.0.113.5",
      verdict: "false_positive",
      note: null,
      actor: "alice",
      createdAt: 9_000,
      suppressionId: null,
    });
    await alerts.recordFeedback({
      alertId: row.id,
      ruleId: "ssh-brute",
      entityKey: "ip:203.0.113.5",
      verdict: "true_positive",
      note: "on second look",
      actor: "bob",
      createdAt: 9_500,
      suppressionId: null,
    });
    const history = await alerts.feedbackHistory(row.id);
    expect(history.map((h) => [h.actor, h.verdict])).toEqual([
      ["alice", "false_positive"],
      ["bob", "true_positive"],
    ]);
    expect(String(history[0]!.id)).toBe(first);

    // Reads for the API: filters, entity match in the JSON list, order and cursor; a case's alerts.
    const second = { ...row, id: "00000000-0000-4000-8000-0000000000a3", dedupKey: "k3", score: 90, lastSeen: 8_000, entities: ["user:root"], entityKind: "user", entityValue: "root" };
    await alerts.upsertBatch([second], [], [], 11_000);
    expect((await alerts.page({ limit: 10, caseId: c.id })).map((a) => a.id)).toEqual([second.id, row.id]);
    expect((await alerts.page({ limit: 10, caseId: c.id, entity: "user:root" })).map((a) => a.id)).toEqual([second.id]);
    expect((await alerts.page({ limit: 10, caseId: c.id, entity: "203.0.113.5" })).map((a) => a.id)).toEqual([row.id]);
    expect((await alerts.page({ limit: 10, caseId: c.id, state: "resolved" })).map((a) => a.id)).toEqual([row.id]);
    expect((await alerts.page({ limit: 10, caseId: c.id, cursor: { lastSeen: 8_000, id: second.id } })).map((a) => a.id)).toEqual([row.id]);
    expect((await alerts.page({ limit: 1, caseId: c.id, sort: "score" })).map((a) => a.id)).toEqual([second.id]);
    expect((await alerts.byCase(c.id)).map((a) => a.id)).toEqual([row.id, second.id]);
    expect((await cases.page({ limit: 10, minScore: 60 })).map((x) => x.id)).toContain(c.id);
    expect((await cases.page({ limit: 10, minScore: 71 })).map((x) => x.id)).not.toContain(c.id);
    expect((await cases.page({ limit: 10, state: "new" })).map((x) => x.id)).toContain(c.id);
  });

  it(`agents: a fresh row saves and reads back; tags, last seen and status update; highestStoredSeq reads the events`, async () => {
    const agents = SqlAgentRepository.of(ds);
    const a = agents.fresh("agent-m1", 1_000);
    Object.assign(a, {
      hostname: "web-1",
      os: "linux",
      kernel: "6.1",
      arch: "x86_64",
      agentVersion: "0.1.0",
      ipAddresses: ["192.0.2.1"],
      tags: ["prod"],
      selfReportedTags: [],
      bootTime: 5,
      lastSeen: 1_000,
    });
    await agents.save(a);
    const b = agents.fresh("agent-m0", 1_000);
    Object.assign(b, { hostname: "a-host", ipAddresses: [], tags: [], lastSeen: 1_000 });
    await agents.save(b);
    expect((await agents.listByHostname()).map((r) => r.id)).toEqual(["agent-m0", "agent-m1"]);
    expect(await agents.byId("agent-m1")).toMatchObject({ hostname: "web-1", tags: ["prod"], adminTags: null, ackedSeq: 0, firstSeen: 1_000 });

    await agents.setAdminTags("agent-m1", ["prod", "web"]);
    await agents.recordSeen("agent-m1", 2_000, { spoolRecords: 3 });
    expect(await agents.byId("agent-m1")).toMatchObject({ tags: ["prod", "web"], adminTags: ["prod", "web"], lastSeen: 2_000, status: { spoolRecords: 3 } });
    await agents.recordSeen("agent-m1", 3_000);
    expect(await agents.byId("agent-m1")).toMatchObject({ lastSeen: 3_000, status: { spoolRecords: 3 } });
    // Batched: last_seen only moves forward, a given status replaces, no status keeps it, unknown ids are ignored.
    await agents.recordSeenMany([
      { id: "agent-m1", lastSeen: 2_500, status: { spoolRecords: 9 } },
      { id: "agent-m0", lastSeen: 4_000 },
      { id: "agent-gone", lastSeen: 9_000, status: { x: 1 } },
    ]);
    expect(await agents.byId("agent-m1")).toMatchObject({ lastSeen: 3_000, status: { spoolRecords: 9 } });
    expect(await agents.byId("agent-m0")).toMatchObject({ lastSeen: 4_000, status: {} });
    expect(await agents.byId("agent-gone")).toBeNull();
    const many = Array.from({ length: 1_200 }, (_, i) => ({ id: i % 2 ? "agent-m1" : "agent-m0", lastSeen: 5_000 + i }));
    await agents.recordSeenMany(many);
    expect((await agents.byId("agent-m1"))?.lastSeen).toBe(6_199);
    expect(await agents.labels(["agent-m1", "agent-gone"])).toEqual(new Map([["agent-m1", { hostname: "web-1", tags: ["prod", "web"] }]]));
    expect(await agents.labels([])).toEqual(new Map());

    expect(await agents.highestStoredSeq("agent-m1", 100)).toBe(0);
    const ev = (seq: number) => ({ agentId: "agent-m1", seq, type: "process", action: "exec", eventTime: seq, receivedAt: seq, summary: "", data: "{}" });
    await new EventStore(ds).insertBatch([ev(1), ev(2), ev(50), ev(120)], [{ agentId: "agent-m1", ackedSeq: 120, lastSeq: 120, gaps: [], missing: 0 }]);
    expect(await agents.highestStoredSeq("agent-m1", 100)).toBe(50);
    expect(await agents.highestStoredSeq("agent-m0", 100)).toBe(0);
    const found = await new EventStore(ds).bySeqs("agent-m1", [2, 50, 77]);
    expect(found.map((e) => e.seq).sort((a, b) => a - b)).toEqual([2, 50]);
    expect(found[0]).toMatchObject({ agentId: "agent-m1", type: "process", action: "exec", data: {} });
    expect(await new EventStore(ds).bySeqs("agent-m1", [])).toEqual([]);
    expect(await agents.hostnames(["agent-m1", "agent-gone"])).toEqual(new Map([["agent-m1", "web-1"]]));
  });

  it(`agents: a registration's write inserts a new agent, or updates a known one keeping the stored cursor (last_seq only up)`, async () => {
    const agents = SqlAgentRepository.of(ds);
    const a = agents.fresh("agent-r1", 1_000);
    Object.assign(a, { hostname: "db-1", ipAddresses: ["192.0.2.7"], tags: ["prod"], lastSeen: 1_000, lastSeq: 40, status: { spoolRecords: 1 } });
    await agents.saveRegistrations([a]);
    expect(await agents.byId("agent-r1")).toMatchObject({ hostname: "db-1", ipAddresses: ["192.0.2.7"], tags: ["prod"], lastSeq: 40, ackedSeq: 0, firstSeen: 1_000, status: { spoolRecords: 1 } });
    // Storage commits a cursor after the registration read the row.
    await new EventStore(ds).insertBatch([], [{ agentId: "agent-r1", ackedSeq: 60, lastSeq: 70, gaps: [[55, 56]], missing: 2 }]);
    // A reconnect with what it read before that commit: its cursor columns are not written back, last_seq only moves up.
    const stale = agents.fresh("agent-r1", 1_000);
    Object.assign(stale, { hostname: "db-1b", ipAddresses: [], tags: ["prod"], lastSeen: 2_000, ackedSeq: 0, lastSeq: 50, gaps: [], missingEvents: 0, status: { spoolRecords: 5 } });
    await agents.saveRegistrations([stale]);
    expect(await agents.byId("agent-r1")).toMatchObject({ hostname: "db-1b", lastSeen: 2_000, ackedSeq: 60, lastSeq: 70, gaps: [[55, 56]], missingEvents: 2, status: { spoolRecords: 5 } });
    stale.lastSeq = 90;
    await agents.saveRegistrations([stale]);
    expect((await agents.byId("agent-r1"))?.lastSeq).toBe(90);
    // Two connects of one new agent raced: the second's insert finds the row and updates it, cursor kept.
    const late = agents.fresh("agent-r1", 3_000);
    Object.assign(late, { hostname: "db-1c", ipAddresses: [], tags: ["prod"], lastSeen: 3_000 });
    await agents.saveRegistrations([late]);
    expect(await agents.byId("agent-r1")).toMatchObject({ hostname: "db-1c", lastSeen: 3_000, ackedSeq: 60, lastSeq: 90, firstSeen: 1_000 });
  });

  it(`agents: registrations of many agents, new and known, are written in one call; known rows keep their cursor, first_seen and the admin's tags`, async () => {
    const agents = SqlAgentRepository.of(ds);
    // 600 agents: more than one statement's chunk (250), so the chunking is exercised too.
    const ids = Array.from({ length: 600 }, (_, i) => `agent-b${String(i).padStart(3, "0")}`);
    const known = agents.fresh("agent-b000", 500);
    Object.assign(known, { hostname: "old", tags: ["token"], lastSeen: 9_000, lastSeq: 80 });
    await agents.saveRegistrations([known]);
    await new EventStore(ds).insertBatch([], [{ agentId: "agent-b000", ackedSeq: 70, lastSeq: 80, gaps: [[3, 4]], missing: 2 }]);
    await agents.setAdminTags("agent-b000", ["pinned"]);
    const rows = ids.map((id, i) => {
      const a = agents.fresh(id, 1_000);
      // What the registration read for agent-b000 before the admin and storage wrote (stale).
      return Object.assign(a, { hostname: `h-${i}`, ipAddresses: [`192.0.2.${i % 250}`], tags: ["token"], selfReportedTags: ["says-critical"], lastSeen: 2_000, lastSeq: 50 + i, status: { n: i } });
    });
    // Handed in reverse order: the repository sorts by id (the lock order).
    await agents.saveRegistrations([...rows].reverse());
    const back = new Map((await agents.byIds(ids)).map((a) => [a.id, a]));
    expect(back.size).toBe(600);
    expect(back.get("agent-b599")).toMatchObject({
      hostname: "h-599",
      ipAddresses: ["192.0.2.99"],
      selfReportedTags: ["says-critical"],
      lastSeen: 2_000,
      lastSeq: 649,
      ackedSeq: 0,
      firstSeen: 1_000,
      status: { n: 599 },
    });
    // The known agent: host fields written; cursor, first_seen and admin tags kept; last_seen and last_seq only up.
    expect(back.get("agent-b000")).toMatchObject({
      hostname: "h-0",
      ackedSeq: 70,
      gaps: [[3, 4]],
      missingEvents: 2,
      firstSeen: 500,
      lastSeen: 9_000,
      lastSeq: 80,
      tags: ["pinned"],
      adminTags: ["pinned"],
    });
    expect(await agents.byIds([])).toEqual([]);
    expect((await agents.byIds(["agent-b001", "agent-none"])).map((a) => a.id)).toEqual(["agent-b001"]);
  });

  it(`agents: a fleet's registrations through the registry share statements; each agent gets its own row, a second connect of one agent reads the first's write`, async () => {
    const registry = new AgentRegistry(SqlAgentRepository.of(ds), 60_000, () => 5_000);
    const session = (agentId: string) => ({ agentId, send: () => undefined, close: () => undefined });
    const id = { tags: ["token"], selfReportedTags: [], enrolledAtMs: 1_000 };
    const ids = Array.from({ length: 300 }, (_, i) => `agent-f${i}`);
    const connects = ids.map((a, i) => registry.connect(a, Hello.fromPartial({ hostname: `fleet-${i}`, lastSeq: i }), id, session(a)));
    // The same agent twice at once (a reconnect racing its old stream): never in one statement.
    const again = registry.connect("agent-f7", Hello.fromPartial({ hostname: "fleet-7-again", lastSeq: 3 }), id, session("agent-f7"));
    const done = await Promise.all(connects);
    await again;
    expect(done[299].cursor).toMatchObject({ agentId: "agent-f299", ackedSeq: 0, lastSeq: 299 });
    const rows = new Map((await SqlAgentRepository.of(ds).byIds(ids)).map((r) => [r.id, r]));
    expect(rows.size).toBe(300);
    expect(rows.get("agent-f123")).toMatchObject({ hostname: "fleet-123", lastSeq: 123, tags: ["token"], lastSeen: 5_000 });
    // The second connect of agent-f7 came after the first's write: its last_seq (3) does not take 7 back.
    expect(rows.get("agent-f7")).toMatchObject({ hostname: "fleet-7-again", lastSeq: 7 });
    const { reads, writes } = registry.registrationBatching();
    expect(reads.items).toBe(301);
    expect(writes.items).toBe(301);
    // 301 agents in a handful of statements (250 per statement at most, the repeat in a batch of its own), not one each.
    expect(writes.batches).toBeLessThanOrEqual(4);
    expect(reads.batches).toBeLessThanOrEqual(4);
    await registry.close();
  });

  it(`scoring state: entity risk, feedback weights and login baselines upsert in one batch and load back`, async () => {
    const batch = new SqlBatch(ds);
    const risk = new EntityRiskRepository(batch);
    const weights = new FeedbackWeightRepository(batch);
    const baselines = new LoginBaselineRepository(batch);
    const ip = { entity: { kind: "ip" as const, id: "203.0.113.5" }, score: 40, updatedAtMs: 1_000 };
    await batch.run([
      risk.upsertWrite("ip:203.0.113.5", ip),
      weights.upsertWrite("ssh-brute|ip:203.0.113.5", { weight: 0.8, truePositives: 0, falsePositives: 1, updatedAtMs: 1_000 }, 1_000),
      baselines.upsertWrite("root", { hours: [3] }, 1_000),
    ]);
    await batch.run([risk.upsertWrite("ip:203.0.113.5", { ...ip, score: 75, updatedAtMs: 2_000 }), baselines.upsertWrite("root", { hours: [3, 4] }, 2_000)]);
    expect(await risk.all()).toEqual([{ key: "ip:203.0.113.5", risk: { ...ip, score: 75, updatedAtMs: 2_000 } }]);
    expect(await weights.all()).toEqual({ "ssh-brute|ip:203.0.113.5": { weight: 0.8, truePositives: 0, falsePositives: 1, updatedAtMs: 1_000 } });
    expect((await baselines.all()).map((r) => [r.user_name, JSON.parse(r.baseline) as unknown])).toEqual([["root", { hours: [3, 4] }]]);
  });

  it(`suppressions: insert, list oldest first, count hits in a batch, remove`, async () => {
    const repo = SuppressionRepository.of(ds);
    const row = (id: string, createdAt: number) => ({
      id,
      ruleId: "ssh-brute",
      fields: { SourceIp: "192.0.2.7" },
      agentTags: null,
      expiresAt: null,
      reason: "scanner",
      createdBy: "alice",
      createdAt,
      hits: 0,
      lastHitAt: null,
    });
    await repo.insert(row("s-late", 20));
    await repo.insert(row("s-early", 10));
    await expect(repo.insert(row("s-early", 30))).rejects.toThrow();
    await new SqlBatch(ds).run([repo.hitsWrite("s-early", 3, 40), repo.hitsWrite("s-early", 2, 50)]);
    const all = await repo.all();
    expect(all.map((r) => r.id)).toEqual(["s-early", "s-late"]);
    expect(all[0]).toMatchObject({ hits: 5, lastHitAt: 50, fields: { SourceIp: "192.0.2.7" } });
    expect(await repo.remove("s-late")).toBe(true);
    expect(await repo.remove("s-late")).toBe(false);
    expect((await repo.all()).map((r) => r.id)).toEqual(["s-early"]);
  });

  it(`commands: insert, pending for an agent, sent once, finished once, overdue, listed newest first, with their steps`, async () => {
    const repo = SqlCommandRepository.of(ds);
    const cmd = (id: string, issuedAt: number, expiresAt: number) => ({
      id,
      agentId: "agent-c",
      type: "isolate",
      paramsJson: "{}",
      state: "queued" as const,
      issuedAt,
      expiresAt,
      signature: "c2ln",
      payloadSha256: "0".repeat(64),
      requestedBy: "alice",
      caseId: null,
      alertId: null,
      local: false,
      sentAt: null,
      finishedAt: null,
      reason: "",
      outputJson: "",
      undoOf: null,
    });
    await repo.insert(cmd("c1", 100, 1_000));
    await repo.insert(cmd("c2", 200, 5_000));
    expect((await repo.pendingFor("agent-c")).map((c) => c.id)).toEqual(["c1", "c2"]);
    await repo.markSent("c1", 150);
    await repo.markSent("c1", 999);
    expect(await repo.byId("c1")).toMatchObject({ state: "sent", sentAt: 150 });
    expect(await repo.finish("c1", "sent", { state: "succeeded", reason: "", outputJson: "{}", finishedAt: 300 })).toBe(true);
    expect(await repo.finish("c1", "sent", { state: "failed", reason: "late", outputJson: "", finishedAt: 400 })).toBe(false);
    expect(await repo.byId("c1")).toMatchObject({ state: "succeeded", finishedAt: 300 });
    await repo.markSent("c1", 500);
    expect((await repo.byId("c1"))?.state).toBe("succeeded");
    // Many agents' pending commands in one read: the finished one left out, agents with none absent.
    await repo.insert({ ...cmd("c3", 50, 9_000), agentId: "agent-d" });
    await repo.insert({ ...cmd("c4", 40, 9_000), agentId: "agent-d" });
    const many = await repo.pendingForMany(["agent-c", "agent-d", "agent-none"]);
    expect(many.get("agent-c")?.map((c) => c.id)).toEqual(["c2"]);
    expect(many.get("agent-d")?.map((c) => c.id)).toEqual(["c4", "c3"]);
    expect(many.size).toBe(2);
    await repo.finish("c3", "queued", { state: "expired", reason: "", outputJson: "", finishedAt: 1 });
    await repo.finish("c4", "queued", { state: "expired", reason: "", outputJson: "", finishedAt: 1 });
    expect((await repo.overdue(5_000)).map((c) => c.id)).toEqual(["c2"]);
    expect(await repo.overdue(4_999)).toEqual([]);
    expect((await repo.list({ agentId: "agent-c", limit: 10 })).map((c) => c.id)).toEqual(["c2", "c1"]);
    expect((await repo.list({ state: "succeeded", limit: 10 })).map((c) => c.id)).toEqual(["c1"]);
    await repo.addStep({ time: 1, commandId: "c1", agentId: "agent-c", step: "requested", detail: "{}" });
    await repo.addStep({ time: 2, commandId: "c1", agentId: "agent-c", step: "sent", detail: "{}" });
    expect((await repo.steps("c1")).map((s) => s.step)).toEqual(["requested", "sent"]);
  });

  it(`webhooks: destinations, the outbox (due, next, attempts, dead letters requeued, counts, prune) and removal with its deliveries`, async () => {
    const repo = WebhookRepository.of(ds);
    const dest = {
      id: "00000000-0000-4000-8000-0000000000d1",
      name: "soc",
      url: "https://hooks.example/x",
      format: "generic" as const,
      topics: ["alerts"],
      minScore: 0,
      ruleTags: [],
      secret: "s".repeat(32),
      routingKey: null,
      enabled: true,
      createdAt: 1,
      updatedAt: 1,
      createdBy: "alice",
    };
    await repo.insertDestination(dest);
    await repo.saveDestination({ ...dest, name: "soc-2", updatedAt: 2 });
    expect((await repo.allDestinations()).map((d) => [d.id, d.name, d.topics])).toEqual([[dest.id, "soc-2", ["alerts"]]]);
    const delivery = (nextAttemptAt: number) => ({
      destinationId: dest.id,
      topic: "alerts",
      noticeType: "alert.created",
      noticeJson: "{}",
      state: "pending" as const,
      attempts: 0,
      nextAttemptAt,
      lastStatus: null,
      lastError: null,
      createdAt: 1,
      updatedAt: 1,
    });
    await repo.enqueue([delivery(100), delivery(200), delivery(900)]);
    const due = await repo.due(500, [], 10);
    expect(due.map((d) => d.nextAttemptAt)).toEqual([100, 200]);
    expect((await repo.due(500, [due[0]!.id], 10)).map((d) => d.id)).toEqual([due[1]!.id]);
    expect((await repo.nextPending())?.nextAttemptAt).toBe(100);
    await repo.updateDelivery(due[0]!.id, { state: "delivered", attempts: 1, lastStatus: 200, updatedAt: 10 });
    await repo.updateDelivery(due[1]!.id, { state: "dead", attempts: 8, lastStatus: 500, lastError: "HTTP 500", updatedAt: 20 });
    expect(await repo.countByState()).toEqual(
      expect.arrayContaining([
        { state: "delivered", n: 1 },
        { state: "dead", n: 1 },
        { state: "pending", n: 1 },
      ]),
    );
    expect((await repo.deliveriesOf(dest.id, "dead", 10)).map((d) => d.lastError)).toEqual(["HTTP 500"]);
    expect(await repo.requeueDead(dest.id, undefined, 30)).toBe(1);
    expect(await repo.requeueDead(dest.id, due[1]!.id, 31)).toBe(0);
    expect((await repo.deliveriesOf(dest.id, "pending", 10)).length).toBe(2);
    await repo.pruneDelivered(10);
    expect((await repo.deliveriesOf(dest.id, "delivered", 10)).length).toBe(1);
    await repo.pruneDelivered(11);
    expect(await repo.deliveriesOf(dest.id, "delivered", 10)).toEqual([]);
    await repo.removeDestination(dest.id);
    expect(await repo.allDestinations()).toEqual([]);
    expect(await repo.deliveriesOf(dest.id, undefined, 10)).toEqual([]);
  });

  it(`policy: one stored version, replaced by the next`, async () => {
    const repo = PolicyRepository.of(ds);
    expect(await repo.current()).toBeNull();
    await repo.store({ version: 1, specJson: '{"rules":[]}', updatedAt: 10, updatedBy: "alice" });
    await repo.store({ version: 2, specJson: '{"rules":[1]}', updatedAt: 20, updatedBy: "bob" });
    expect(await repo.current()).toMatchObject({ id: 1, version: 2, specJson: '{"rules":[1]}', updatedAt: 20, updatedBy: "bob" });
  });

  it(`playbooks: versions, soft delete, one decision per (playbook, alert, action), auto isolations since`, async () => {
    const repo = PlaybookRepository.of(ds);
    const pb = { id: "contain", name: "Contain", version: 1, yaml: "id: contain", enabled: true, deleted: false, createdAt: 1, updatedAt: 1 };
    await repo.save(pb);
    await repo.addVersion({ playbookId: "contain", version: 1, yaml: "id: contain", createdAt: 1, createdBy: "alice" });
    await repo.save({ ...pb, version: 2, updatedAt: 2 });
    await repo.addVersion({ playbookId: "contain", version: 2, yaml: "id: contain # 2", createdAt: 2, createdBy: "alice" });
    expect((await repo.versionsOf("contain")).map((v) => v.version)).toEqual([1, 2]);
    expect((await repo.active()).map((p) => [p.id, p.version])).toEqual([["contain", 2]]);
    await repo.save({ ...pb, version: 2, deleted: true, updatedAt: 3 });
    expect(await repo.active()).toEqual([]);
    expect((await repo.byId("contain"))?.deleted).toBe(true);

    const decision = (id: string, actionIndex: number, createdAt: number) => ({
      id,
      playbookId: "contain",
      playbookVersion: 2,
      alertId: "alert-1",
      caseId: null,
      agentId: "agent-1",
      actionIndex,
      actionType: "isolate",
      paramsJson: "{}",
      state: "issued" as const,
      reason: "",
      commandId: null,
      createdAt,
      decidedAt: createdAt,
      decidedBy: "auto",
    });
    expect(await repo.insertDecision(decision("00000000-0000-4000-8000-0000000000e1", 0, 100))).toBe(true);
    expect(await repo.insertDecision(decision("00000000-0000-4000-8000-0000000000e2", 0, 101))).toBe(false);
    expect(await repo.insertDecision(decision("00000000-0000-4000-8000-0000000000e3", 1, 102))).toBe(true);
    const d = (await repo.decisionById("00000000-0000-4000-8000-0000000000e3"))!;
    await repo.saveDecision({ ...d, state: "rejected", decidedBy: "bob" });
    expect(await repo.autoIsolationsSince(50)).toEqual([100]);
    expect(await repo.autoIsolationsSince(100)).toEqual([]);
    expect((await repo.decisionsFor({ alertId: "alert-1", limit: 10 })).map((x) => x.state)).toEqual(["rejected", "issued"]);
  });

  it(`rules: uploaded files oldest first, replaced by name, removed; enabled overrides`, async () => {
    const repo = RuleRepository.of(ds);
    await repo.saveSource({ name: "b.yml", yaml: "title: b", ruleIds: ["rb"], createdAt: 20, createdBy: "alice" });
    await repo.saveSource({ name: "a.yml", yaml: "title: a", ruleIds: ["ra"], createdAt: 10, createdBy: "alice" });
    await repo.saveSource({ name: "b.yml", yaml: "title: b2", ruleIds: ["rb", "rb2"], createdAt: 20, createdBy: "bob" });
    expect((await repo.allSources()).map((s) => [s.name, s.ruleIds])).toEqual([
      ["a.yml", ["ra"]],
      ["b.yml", ["rb", "rb2"]],
    ]);
    await repo.removeSource("a.yml");
    expect((await repo.allSources()).map((s) => s.name)).toEqual(["b.yml"]);
    await repo.setEnabled("rb", false, 30, "alice");
    await repo.setEnabled("rb", true, 40, "bob");
    await repo.setEnabled("rb2", false, 50, "bob");
    expect((await repo.allSettings()).map((x) => [x.ruleId, x.enabled]).sort()).toEqual([
      ["rb", 1],
      ["rb2", 0],
    ]);
  });

  it(`inventories: upsert replaces the agent's row, get reads every field back`, async () => {
    const inv = new InventoryRepository(ds);
    await inv.upsert({ agentId: "agent-1", collectedAt: 10, receivedAt: 11, reason: "start", body: { uid: 0, packages: ["a"] } });
    await inv.upsert({ agentId: "agent-1", collectedAt: 20, receivedAt: 21, reason: "periodic", body: { uid: 0, packages: ["a", "b"] } });
    expect(await inv.get("agent-1")).toEqual({ agentId: "agent-1", collectedAt: 20, receivedAt: 21, reason: "periodic", body: { uid: 0, packages: ["a", "b"] } });
    expect(await inv.get("agent-2")).toBeUndefined();
  });

  it(`certificates: issue, find by fingerprint, revoke the agent and its live certificates once, revocations since`, async () => {
    const certs = CertificateRepository.of(ds);
    const cert = (serial: string, agentId: string) => ({ serial, agentId, fingerprint: `fp-${serial}`, notBefore: 1, notAfter: 2_000, issuedAt: 5, tokenId: "tok1", tags: ["prod"] });
    await certs.issue(cert("s1", "agent-1"));
    await certs.issue(cert("s2", "agent-1"));
    await certs.issue(cert("s3", "agent-2"));
    expect(await certs.byFingerprint("fp-s1")).toEqual({ ...cert("s1", "agent-1"), revokedAt: 0 });
    expect(await certs.byFingerprint("fp-none")).toBeNull();
    expect(await certs.forAgent("agent-1")).toBe(2);
    expect(await certs.isRevoked("agent-1")).toBe(false);
    expect(await certs.revoke("agent-1", 100, "cli", "lost laptop")).toEqual({ revoked: true, certificates: 2 });
    expect(await certs.revoke("agent-1", 200, "cli", "again")).toEqual({ revoked: false, certificates: 0 });
    expect(await certs.isRevoked("agent-1")).toBe(true);
    expect((await certs.byFingerprint("fp-s1"))?.revokedAt).toBe(100);
    expect((await certs.byFingerprint("fp-s3"))?.revokedAt).toBe(0);
    expect(await certs.revokedSince(99, 10)).toEqual([{ agentId: "agent-1", revokedAt: 100 }]);
    expect(await certs.revokedSince(100, 10)).toEqual([]);
  });

  it(`enrollment tokens: create, byId, consume only while uses are left and unexpired, list newest first`, async () => {
    const tokens = EnrollmentTokenRepository.of(ds);
    const tok = (id: string, usesLeft: number, createdAt: number) => ({ id, hash: "ab".repeat(32), tags: ["t"], usesLeft, usesTotal: usesLeft, expiresAt: 1_000, createdAt, createdBy: "cli" });
    await tokens.create(tok("tok-a", 1, 1));
    await tokens.create(tok("tok-b", 2, 2));
    expect(await tokens.byId("tok-a")).toEqual(tok("tok-a", 1, 1));
    expect(await tokens.consume("tok-a", 500)).toBe(true);
    expect(await tokens.consume("tok-a", 500)).toBe(false);
    expect(await tokens.consume("tok-b", 1_000)).toBe(false);
    expect((await tokens.byId("tok-b"))?.usesLeft).toBe(2);
    expect((await tokens.list()).map((t) => [t.id, t.usesLeft])).toEqual([
      ["tok-b", 2],
      ["tok-a", 0],
    ]);
  });

  it(`api keys: create, byId, list oldest first, revoke once, touch last used`, async () => {
    const keys = ApiKeyRepository.of(ds);
    const key = (id: string, createdAt: number) => ({ id, name: `key ${id}`, role: "analyst", hash: "scrypt$x", createdAt, createdBy: "cli", lastUsedAt: 0, revokedAt: 0 });
    await keys.create(key("k2", 2));
    await keys.create(key("k1", 1));
    expect(await keys.byId("k1")).toEqual(key("k1", 1));
    expect(await keys.byId("nope")).toBeNull();
    expect((await keys.list()).map((k) => k.id)).toEqual(["k1", "k2"]);
    await keys.touch("k1", 50);
    expect(await keys.revoke("k1", 60)).toBe(true);
    expect(await keys.revoke("k1", 70)).toBe(false);
    expect(await keys.byId("k1")).toMatchObject({ lastUsedAt: 50, revokedAt: 60 });
  });

  it(`audit: append reports a taken seq instead of throwing; head, bySeq, the marker, filtered query and ranges`, async () => {
    const audit = AuditRepository.of(ds);
    const rec = (seq: number, action: string, actor = "cli"): StoredAuditRecord => ({ seq, time: seq * 10, actor, action, target: "", details: "{}", prevHash: `p${seq}`, hash: `h${seq}` });
    expect(await audit.head()).toBeUndefined();
    expect(await audit.append([rec(1, "chain.keyed", "system"), rec(2, "apikey.created")])).toBe(true);
    expect(await audit.append([rec(3, "token.created")])).toBe(true);
    expect(await audit.append([rec(3, "other.writer")])).toBe(false);
    expect(await audit.head()).toEqual(rec(3, "token.created"));
    expect(await audit.bySeq(2)).toEqual(rec(2, "apikey.created"));
    expect(await audit.bySeq(9)).toBeUndefined();
    expect(await audit.firstSeqOf("chain.keyed")).toBe(1);
    expect(await audit.firstSeqOf("nothing")).toBeUndefined();
    expect((await audit.query({ limit: 10, actor: "cli" })).map((r) => r.seq)).toEqual([3, 2]);
    expect((await audit.query({ limit: 10, since: 20, until: 30 })).map((r) => r.seq)).toEqual([2]);
    expect((await audit.query({ limit: 1, beforeSeq: 3 })).map((r) => r.seq)).toEqual([2]);
    expect((await audit.range(1, 1)).map((r) => r.seq)).toEqual([2]);
    expect((await audit.range(0, 10)).map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it(`iocs: upsert by (kind, value, source), pages by id and best first, live count by span, list, remove, remove a source in batches`, async () => {
    const iocs = IocRepository.of(ds);
    await iocs.upsert(
      [
        { kind: "ip", value: "203.0.113.5", confidence: 80, source: "feed-a", tags: ["c2"] },
        { kind: "domain", value: "evil.example", confidence: 60, source: "feed-a", expiresAtMs: 1_000 },
        { kind: "ip", value: "198.51.100.7", confidence: 90, source: "feed-b", description: "scanner", sourceId: "x-1" },
      ],
      100,
    );
    await iocs.upsert([{ kind: "ip", value: "203.0.113.5", confidence: 85, source: "feed-a" }], 200);
    const all = await iocs.pageAfter(0, 10);
    expect(all.map((r) => [r.value, Number(r.confidence), Number(r.updated_at)])).toEqual([
      ["203.0.113.5", 85, 200],
      ["evil.example", 60, 100],
      ["198.51.100.7", 90, 100],
    ]);
    expect((await iocs.pageAfter(Number(all[0]!.id), 1)).map((r) => r.value)).toEqual(["evil.example"]);
    const hi = await iocs.maxId();
    expect(hi).toBe(Number(all[2]!.id));
    expect(await iocs.countLiveInSpan(0, hi, 500)).toBe(3);
    expect(await iocs.countLiveInSpan(0, hi, 1_000)).toBe(2);
    const first = await iocs.bestFirstPage(undefined, 2);
    expect(first.map((r) => r.value)).toEqual(["198.51.100.7", "203.0.113.5"]);
    const last = first[1]!;
    expect((await iocs.bestFirstPage([Number(last.confidence), Number(last.updated_at), Number(last.id)], 2)).map((r) => r.value)).toEqual(["evil.example"]);
    expect((await iocs.list({ limit: 10, source: "feed-a" })).map((r) => r.value)).toEqual(["203.0.113.5", "evil.example"]);
    expect((await iocs.list({ limit: 10, kind: "ip", afterId: Number(all[0]!.id) })).map((r) => r.value)).toEqual(["198.51.100.7"]);
    expect(await iocs.remove(Number(all[2]!.id))).toBe(true);
    expect(await iocs.remove(Number(all[2]!.id))).toBe(false);
    expect(await iocs.removeSomeOfSource("feed-a", 1)).toBe(1);
    expect(await iocs.removeSomeOfSource("feed-a", 1)).toBe(1);
    expect(await iocs.removeSomeOfSource("feed-a", 1)).toBe(0);
    expect(await iocs.pageAfter(0, 10)).toEqual([]);
  });
});
