import { randomUUID } from "node:crypto";
import { entityKey } from "@vigil/detection";
import type { CaseAlert, CaseChaining } from "../alerts/case-chaining";
import type { AlertVerdict } from "../database/entities/alert.entity";
import type { CaseEntity, CaseState } from "../database/entities/case.entity";
import type { CaseRecord, CaseRepository } from "../database/repositories/case-repository";
import type { Stmt } from "../database/sql-batch";

/** A committed case change, for listeners outside detection (live stream, webhooks). */
export interface CaseNotice {
  change: "opened" | "updated" | "acknowledged" | "resolved";
  id: string;
  title: string;
  state: CaseState;
  verdict: AlertVerdict | null;
  score: number;
  alertCount: number;
  firstSeen: number;
  lastSeen: number;
}

interface OpenCase {
  id: string;
  title: string;
  state: CaseState;
  score: number;
  entities: Set<string>;
  alertCount: number;
  firstSeen: number;
  lastSeen: number;
  createdAt: number;
  isNew: boolean;
  dirty: boolean;
}

const MAX_CASE_ENTITIES = 500;

/** Chaining window: an alert joins an open case whose alerts are this close in event time. */
export const CASE_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * Cases: alerts on the same entity chain into one story.
 *
 * The rule: a new alert joins the open (new or acknowledged) case that shares its host (agent) or
 * one of its IP addresses, when the alert's event time lies within 24 h of the case's
 * [first seen, last seen] span; with several candidates, the most recently active wins. Users alone
 * do not chain ("root" on two hosts is not one story); they join through the host. Otherwise the
 * alert opens a case. A case's score is the highest of its alerts; its title is the alert that
 * opened it and stays (an analyst reading "SSH brute force on web-1" must find the same case after a
 * higher-scoring alert joins). Resolved cases take no new alerts.
 */
export type { CaseAlert };

export class CaseService implements CaseChaining {
  private readonly open = new Map<string, OpenCase>();
  private readonly resolvedListeners: Array<(caseId: string) => void> = [];
  private readonly caseListeners: Array<(c: CaseNotice) => void> = [];
  /** Changes written by the last takeWrites(), announced once their transaction commits. */
  private unannounced: CaseNotice[] = [];

  constructor(
    private readonly cases: CaseRepository,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<void> {
    const rows = await this.cases.unresolved();
    for (const r of rows) {
      this.open.set(r.id, {
        id: r.id,
        title: r.title,
        state: r.state,
        score: r.score,
        entities: new Set(r.entities),
        alertCount: r.alertCount,
        firstSeen: r.firstSeen,
        lastSeen: r.lastSeen,
        createdAt: r.createdAt,
        isNew: false,
        dirty: false,
      });
    }
  }

  onResolved(l: (caseId: string) => void): void {
    this.resolvedListeners.push(l);
  }

  onCase(l: (c: CaseNotice) => void): void {
    this.caseListeners.push(l);
  }

  /** The writer calls this after the statements from takeWrites() committed. */
  announceCommitted(): void {
    const out = this.unannounced;
    this.unannounced = [];
    for (const n of out) this.emitCase(n);
  }

  /** A case as stored after an API change, told to listeners. */
  private emitStored(change: CaseNotice["change"], row: CaseEntity): void {
    const { id, title, state, verdict, score, alertCount, firstSeen, lastSeen } = row;
    this.emitCase({ change, id, title, state, verdict, score, alertCount, firstSeen, lastSeen });
  }

  private emitCase(n: CaseNotice): void {
    for (const l of this.caseListeners) {
      try {
        l(n);
      } catch {
        // Listeners must not fail detection or the API call.
      }
    }
  }

  /** Picks or opens the case for a new alert; returns its id. Persisted by takeWrites(). */
  attach(a: CaseAlert): string {
    const keys = a.entities.filter((e) => e.kind === "host" || e.kind === "ip").map(entityKey);
    keys.push(entityKey({ kind: "host", id: a.agentId }));
    let best: OpenCase | undefined;
    for (const c of this.open.values()) {
      if (a.timeMs < c.firstSeen - CASE_WINDOW_MS || a.firstSeenMs > c.lastSeen + CASE_WINDOW_MS) continue;
      if (!keys.some((k) => c.entities.has(k))) continue;
      if (!best || c.lastSeen > best.lastSeen) best = c;
    }
    const c =
      best ??
      ({
        id: randomUUID(),
        title: "",
        state: "new",
        score: -1,
        entities: new Set(),
        alertCount: 0,
        firstSeen: a.firstSeenMs,
        lastSeen: a.timeMs,
        createdAt: this.now(),
        isNew: true,
        dirty: true,
      } satisfies OpenCase);
    if (!best) this.open.set(c.id, c);
    c.entities.add(entityKey({ kind: "host", id: a.agentId }));
    // Capped: a scan or an IOC storm must not grow one case row (and its chaining set) without bound.
    for (const e of a.entities) if (c.entities.size < MAX_CASE_ENTITIES) c.entities.add(entityKey(e));
    c.alertCount++;
    c.firstSeen = Math.min(c.firstSeen, a.firstSeenMs);
    c.lastSeen = Math.max(c.lastSeen, a.timeMs);
    if (a.score > c.score) c.score = a.score;
    if (!c.title) c.title = `${a.ruleTitle} on ${a.hostname || a.agentId}`.slice(0, 512);
    c.dirty = true;
    return c.id;
  }

  takeWrites(): Stmt[] {
    const out: Stmt[] = [];
    const now = this.now();
    this.unannounced = [];
    for (const c of this.open.values()) {
      if (!c.dirty) continue;
      if (this.caseListeners.length) {
        this.unannounced.push({
          change: c.isNew ? "opened" : "updated",
          id: c.id,
          title: c.title,
          state: c.state,
          verdict: null,
          score: c.score,
          alertCount: c.alertCount,
          firstSeen: c.firstSeen,
          lastSeen: c.lastSeen,
        });
      }
      const record: CaseRecord = { ...c, entities: [...c.entities] };
      out.push(c.isNew ? this.cases.insertWrite(record, now) : this.cases.updateWrite(record, now));
      c.isNew = false;
      c.dirty = false;
    }
    return out;
  }

  /** An analyst's title for the case; detection never changes it afterwards. */
  async rename(id: string, title: string): Promise<CaseEntity | null> {
    const row = await this.cases.byId(id);
    if (!row) return null;
    await this.cases.rename(id, title, this.now());
    const c = this.open.get(id);
    if (c) c.title = title;
    const after = await this.cases.byId(id);
    if (after) this.emitStored("updated", after);
    return after;
  }

  /**
   * Acknowledge or resolve (with a verdict). Resolving also resolves the case's alerts, so later
   * activity opens a fresh alert and case rather than reopening a closed story.
   */
  async setState(id: string, state: "acknowledged" | "resolved", verdict: AlertVerdict | undefined, actor: string): Promise<CaseEntity | null> {
    const row = await this.cases.byId(id);
    if (!row) return null;
    // Out of chaining before the write: alerts arriving meanwhile open a fresh case.
    if (state === "resolved") {
      this.open.delete(id);
    } else {
      const c = this.open.get(id);
      if (c) c.state = state;
    }
    await this.cases.setState(id, { state, verdict: verdict ?? row.verdict, alertVerdict: verdict ?? null, resolvedBy: state === "resolved" ? actor : row.resolvedBy, now: this.now() });
    if (state === "resolved") for (const l of this.resolvedListeners) l(id);
    const after = await this.cases.byId(id);
    if (after) this.emitStored(state, after);
    return after;
  }
}
