import type { EntityRef, Verdict } from "@vigil/detection";
import { describe, expect, it } from "vitest";
import { AlertActions } from "../../src/alerts/alert-actions";
import type { SuppressionView } from "../../src/alerts/suppression-service";
import type { AlertEntity, AlertFeedbackEntity, AlertState, AlertVerdict } from "../../src/database/entities/alert.entity";
import type { AlertFilter, AlertMerge, AlertRepository, FeedbackRecord, NewAlertRow, OpenAlertRow } from "../../src/database/repositories/alert-repository";
import type { Stmt } from "../../src/database/sql-batch";

/** AlertActions against an in-memory AlertRepository: what an analyst's ack and verdict change. */
class FakeAlerts implements AlertRepository {
  readonly rows = new Map<string, AlertEntity>();
  readonly verdicts: Array<{ id: string; verdict: AlertVerdict; state: AlertState; now: number; also: readonly Stmt[] }> = [];
  readonly feedback: FeedbackRecord[] = [];
  acks = 0;

  byId(id: string): Promise<AlertEntity | null> {
    const r = this.rows.get(id);
    return Promise.resolve(r ? { ...r } : null);
  }
  page(_f: AlertFilter): Promise<AlertEntity[]> {
    return Promise.resolve([...this.rows.values()]);
  }
  byCase(caseId: string): Promise<AlertEntity[]> {
    return Promise.resolve([...this.rows.values()].filter((r) => r.caseId === caseId));
  }
  openByDedupKey(_key: string): Promise<OpenAlertRow | undefined> {
    return Promise.resolve(undefined);
  }
  upsertBatch(_i: readonly NewAlertRow[], _m: readonly AlertMerge[], _a: readonly Stmt[], _now: number): Promise<void> {
    return Promise.reject(new Error("not used by AlertActions"));
  }
  acknowledge(id: string, now: number): Promise<void> {
    this.acks++;
    const r = this.rows.get(id);
    if (r?.state === "new") Object.assign(r, { state: "acknowledged", updatedAt: now });
    return Promise.resolve();
  }
  setVerdict(id: string, verdict: AlertVerdict, state: AlertState, now: number, also: readonly Stmt[]): Promise<void> {
    this.verdicts.push({ id, verdict, state, now, also });
    Object.assign(this.rows.get(id)!, { verdict, state, updatedAt: now });
    return Promise.resolve();
  }
  recordFeedback(f: FeedbackRecord): Promise<string> {
    this.feedback.push(f);
    return Promise.resolve(String(this.feedback.length));
  }
  feedbackHistory(alertId: string): Promise<AlertFeedbackEntity[]> {
    return Promise.resolve(this.feedback.filter((f) => f.alertId === alertId).map((f, i) => ({ id: String(i + 1), ...f })));
  }
}

function alertRow(over: Partial<AlertEntity> = {}): AlertEntity {
  return {
    id: "a1",
    ruleId: "ssh-brute",
    ruleTitle: "SSH brute force",
    ruleLevel: "high",
    ruleTags: [],
    kind: "match",
    correlationType: null,
    agentId: "agent-1",
    hostname: "web-1",
    entityKind: "ip",
    entityValue: "203.0.113.5",
    entities: ["ip:203.0.113.5"],
    dedupKey: "ssh-brute|ip:203.0.113.5|agent-1",
    score: 60,
    breakdown: [],
    count: 3,
    firstSeen: 1,
    lastSeen: 2,
    createdAt: 1,
    updatedAt: 2,
    state: "new",
    verdict: null,
    caseId: null,
    eventRefs: [],
    eventFields: [{ SourceIp: "203.0.113.5", User: "root", Image: { not: "a scalar" } }],
    groupBy: { AgentId: "agent-1" },
    iocHits: [],
    ...over,
  };
}

function setup(row: AlertEntity = alertRow()) {
  const repo = new FakeAlerts();
  repo.rows.set(row.id, row);
  const forgotten: string[] = [];
  const applied: Array<{ ruleId: string; entity: EntityRef; verdict: Verdict }> = [];
  const created: unknown[] = [];
  const actions = new AlertActions(
    repo,
    { forget: (k) => void forgotten.push(k) },
    {
      apply: (ruleId, entity, verdict, atMs) => {
        applied.push({ ruleId, entity, verdict });
        return { weight: verdict === "false_positive" ? 0.8 : 1.1, write: { sql: "weights", params: [ruleId, atMs] } };
      },
    },
    {
      create: (raw) => {
        created.push(raw);
        return Promise.resolve({ id: "s1", ruleId: "ssh-brute", hits: 0, lastHitAt: null, expired: false } as unknown as SuppressionView);
      },
    },
    () => 42_000,
  );
  return { repo, actions, forgotten, applied, created };
}

describe("AlertActions (unit, fake repository)", () => {
  it("acknowledges a new alert once and forgets its cached open state", async () => {
    const { repo, actions, forgotten } = setup();
    expect((await actions.ack("a1"))?.state).toBe("acknowledged");
    expect(forgotten).toEqual(["ssh-brute|ip:203.0.113.5|agent-1"]);
    await actions.ack("a1");
    expect(repo.acks).toBe(1);
    expect(await actions.ack("missing")).toBeNull();
  });

  it("a false positive resolves the alert with the weight write in the same call, suggests a suppression from its scalar fields, and records the verdict", async () => {
    const { repo, actions, applied, created } = setup();
    const r = await actions.feedback("a1", "false_positive", "lab scanner", false, "alice");
    expect(r).toMatchObject({ alertId: "a1", verdict: "false_positive", weight: 0.8, recorded: { id: "1", actor: "alice", at: new Date(42_000).toISOString() } });
    expect(r?.suggestedSuppression?.fields).toEqual({ SourceIp: "203.0.113.5", User: "root", AgentId: "agent-1" });
    expect(created).toEqual([]);
    expect(applied).toEqual([{ ruleId: "ssh-brute", entity: { kind: "ip", id: "203.0.113.5" }, verdict: "false_positive" }]);
    expect(repo.verdicts).toEqual([{ id: "a1", verdict: "false_positive", state: "resolved", now: 42_000, also: [{ sql: "weights", params: ["ssh-brute", 42_000] }] }]);
    expect(repo.feedback).toEqual([
      { alertId: "a1", ruleId: "ssh-brute", entityKey: "ip:203.0.113.5", verdict: "false_positive", note: "lab scanner", actor: "alice", createdAt: 42_000, suppressionId: null },
    ]);
    expect((await actions.history("a1")).map((f) => f.verdict)).toEqual(["false_positive"]);
  });

  it("a false positive with createSuppression creates it and links it to the verdict", async () => {
    const { repo, actions, created } = setup();
    const r = await actions.feedback("a1", "false_positive", undefined, true, "alice");
    expect(created).toHaveLength(1);
    expect(r?.createdSuppression?.id).toBe("s1");
    expect(repo.feedback[0]?.suppressionId).toBe("s1");
  });

  it("a true positive acknowledges a new alert and keeps a resolved one resolved; unknown alerts write nothing", async () => {
    const { repo, actions } = setup();
    await actions.feedback("a1", "true_positive", undefined, false, "bob");
    expect(repo.verdicts.at(-1)).toMatchObject({ verdict: "true_positive", state: "acknowledged" });
    repo.rows.get("a1")!.state = "resolved";
    await actions.feedback("a1", "true_positive", undefined, false, "bob");
    expect(repo.verdicts.at(-1)).toMatchObject({ state: "resolved" });
    expect(await actions.feedback("missing", "true_positive", undefined, false, "bob")).toBeNull();
    expect(repo.verdicts).toHaveLength(2);
  });
});
