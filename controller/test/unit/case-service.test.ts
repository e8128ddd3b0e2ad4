import { describe, expect, it } from "vitest";
import { CASE_WINDOW_MS, CaseService, type CaseAlert, type CaseNotice } from "../../src/cases/case-service";
import type { CaseEntity } from "../../src/database/entities/case.entity";
import type { CaseFilter, CaseRecord, CaseRepository, CaseStateChange } from "../../src/database/repositories/case-repository";
import type { Stmt } from "../../src/database/sql-batch";

/**
 * CaseService against an in-memory CaseRepository: the chaining rule and the state changes, with no
 * database. The repository's SQL itself is covered by test/medium/repositories.test.ts.
 */
class FakeCases implements CaseRepository {
  readonly rows = new Map<string, CaseEntity>();
  readonly stateChanges: Array<{ id: string; change: CaseStateChange }> = [];

  unresolved(): Promise<CaseEntity[]> {
    return Promise.resolve([...this.rows.values()].filter((r) => r.state !== "resolved"));
  }

  byId(id: string): Promise<CaseEntity | null> {
    return Promise.resolve(this.rows.get(id) ?? null);
  }

  page(_f: CaseFilter): Promise<CaseEntity[]> {
    return Promise.resolve([...this.rows.values()]);
  }

  insertWrite(c: CaseRecord, now: number): Stmt {
    return { sql: "insert", params: [{ ...c, entities: [...c.entities] }, now] };
  }

  updateWrite(c: CaseRecord, now: number): Stmt {
    return { sql: "update", params: [{ ...c, entities: [...c.entities] }, now] };
  }

  setState(id: string, change: CaseStateChange): Promise<void> {
    this.stateChanges.push({ id, change });
    const row = this.rows.get(id);
    if (row) Object.assign(row, { state: change.state, verdict: change.verdict, resolvedBy: change.resolvedBy, updatedAt: change.now });
    return Promise.resolve();
  }

  readonly renames: Array<{ id: string; title: string }> = [];
  rename(id: string, title: string, now: number): Promise<void> {
    this.renames.push({ id, title });
    const row = this.rows.get(id);
    if (row) Object.assign(row, { title, updatedAt: now });
    return Promise.resolve();
  }

  /** Applies what the alert service would commit. */
  commit(stmts: readonly Stmt[]): void {
    for (const s of stmts) {
      const c = s.params[0] as CaseRecord;
      const now = s.params[1] as number;
      this.rows.set(c.id, { ...c, entities: [...c.entities], verdict: null, updatedAt: now, resolvedBy: null } as CaseEntity);
    }
  }
}

const HOUR = 3600_000;
const alert = (over: Partial<CaseAlert>): CaseAlert => ({
  id: over.id ?? "a",
  ruleTitle: "Suspicious shell",
  hostname: "web-1",
  agentId: "agent-1",
  score: 50,
  entities: [],
  firstSeenMs: 10 * HOUR,
  timeMs: 10 * HOUR,
  ...over,
});

describe("CaseService (unit, fake repository)", () => {
  it("chains alerts on one host into one case, opens another for another host, and writes only what changed", () => {
    const repo = new FakeCases();
    const cases = new CaseService(repo, () => 1_000);
    const first = cases.attach(alert({ id: "a1" }));
    const again = cases.attach(alert({ id: "a2", score: 80, ruleTitle: "Reverse shell", timeMs: 11 * HOUR }));
    const other = cases.attach(alert({ id: "a3", agentId: "agent-2", hostname: "db-1" }));
    expect(again).toBe(first);
    expect(other).not.toBe(first);

    const writes = cases.takeWrites();
    expect(writes.map((w) => w.sql)).toEqual(["insert", "insert"]);
    const written = writes.map((w) => w.params[0] as CaseRecord).find((c) => c.id === first)!;
    // The title is the opening alert's and stays; the score is the highest.
    expect(written).toMatchObject({ alertCount: 2, score: 80, title: "Suspicious shell on web-1", firstSeen: 10 * HOUR, lastSeen: 11 * HOUR });
    expect(written.entities).toContain("host:agent-1");
    expect(cases.takeWrites()).toEqual([]);

    cases.attach(alert({ id: "a4", timeMs: 12 * HOUR }));
    const update = cases.takeWrites();
    expect(update.map((w) => w.sql)).toEqual(["update"]);
    expect((update[0]!.params[0] as CaseRecord).alertCount).toBe(3);
  });

  it("opens a new case for an alert outside the chaining window", () => {
    const cases = new CaseService(new FakeCases());
    const first = cases.attach(alert({ id: "a1" }));
    const late = cases.attach(alert({ id: "a2", firstSeenMs: 11 * HOUR + CASE_WINDOW_MS, timeMs: 11 * HOUR + CASE_WINDOW_MS }));
    expect(late).not.toBe(first);
  });

  it("resolving writes the state with the actor, announces it, and takes the case out of chaining", async () => {
    const repo = new FakeCases();
    const cases = new CaseService(repo, () => 5_000);
    const resolved: string[] = [];
    const notices: CaseNotice[] = [];
    cases.onResolved((id) => resolved.push(id));
    cases.onCase((n) => notices.push(n));
    const id = cases.attach(alert({ id: "a1" }));
    repo.commit(cases.takeWrites());

    const after = await cases.setState(id, "resolved", "true_positive", "alice");
    expect(after?.state).toBe("resolved");
    expect(repo.stateChanges).toEqual([{ id, change: { state: "resolved", verdict: "true_positive", alertVerdict: "true_positive", resolvedBy: "alice", now: 5_000 } }]);
    expect(resolved).toEqual([id]);
    expect(notices.at(-1)).toMatchObject({ change: "resolved", id, verdict: "true_positive" });
    expect(cases.attach(alert({ id: "a2", timeMs: 10 * HOUR + 1 }))).not.toBe(id);
  });

  it("acknowledging keeps the case chaining and its verdict; an unknown case writes nothing", async () => {
    const repo = new FakeCases();
    const cases = new CaseService(repo, () => 7_000);
    const id = cases.attach(alert({ id: "a1" }));
    repo.commit(cases.takeWrites());
    expect(await cases.setState("no-such-case", "acknowledged", undefined, "bob")).toBeNull();
    expect(repo.stateChanges).toEqual([]);

    await cases.setState(id, "acknowledged", undefined, "bob");
    expect(repo.stateChanges[0]!.change).toEqual({ state: "acknowledged", verdict: null, alertVerdict: null, resolvedBy: null, now: 7_000 });
    expect(cases.attach(alert({ id: "a2", timeMs: 10 * HOUR + 1 }))).toBe(id);
  });

  it("an analyst's rename is stored, announced, and kept when later alerts join", async () => {
    const repo = new FakeCases();
    const cases = new CaseService(repo, () => 9_000);
    const notices: CaseNotice[] = [];
    cases.onCase((n) => notices.push(n));
    const id = cases.attach(alert({ id: "a1" }));
    repo.commit(cases.takeWrites());
    expect((await cases.rename(id, "Lab box noise"))?.title).toBe("Lab box noise");
    expect(repo.renames).toEqual([{ id, title: "Lab box noise" }]);
    expect(notices.at(-1)).toMatchObject({ change: "updated", id, title: "Lab box noise" });
    cases.attach(alert({ id: "a2", score: 99, ruleTitle: "Reverse shell", timeMs: 10 * HOUR + 1 }));
    expect((cases.takeWrites()[0]!.params[0] as CaseRecord).title).toBe("Lab box noise");
    expect(await cases.rename("no-such-case", "x")).toBeNull();
  });

  it("loads unresolved cases so chaining continues across a restart", async () => {
    const repo = new FakeCases();
    const before = new CaseService(repo);
    const id = before.attach(alert({ id: "a1" }));
    repo.commit(before.takeWrites());
    const restarted = new CaseService(repo);
    await restarted.load();
    expect(restarted.attach(alert({ id: "a2", timeMs: 10 * HOUR + 1 }))).toBe(id);
  });
});
