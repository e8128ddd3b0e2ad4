import { randomUUID } from "node:crypto";
import { dedupKey, entityKey, scoreAlert, shouldMerge, tacticsFromTags, DEFAULT_DEDUP_CONFIG, type DedupConfig, type ScoreFactor } from "@vigil/detection";
import type { AlertSink, PipelineMatch } from "../detection/event-meta";
import type { AlertMerge, AlertRepository, NewAlertRow } from "../database/repositories/alert-repository";
import type { CorrelationFiringRepository } from "../database/repositories/correlation-firing-repository";
import type { Stmt } from "../database/sql-batch";
import type { EntityRiskService } from "../risk/entity-risk-service";
import { buildCandidate, type AlertCandidate } from "./alert-candidate";
import { keepEventFields, keepEventRefs } from "./event-refs";
import type { AlertState, EventRef } from "../database/entities/alert.entity";
import type { CaseChaining } from "./case-chaining";
import type { ChainIndex } from "./chain-index";
import type { FeedbackWeightStore } from "./feedback-weights";
import type { SuppressionService } from "./suppression-service";

/** The open alert a dedup key points at, as far as merging needs. */
interface OpenAlert {
  id: string;
  dedupKey: string;
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
  state: AlertState;
  eventRefs: EventRef[];
  eventFields: Record<string, unknown>[];
}

/** A committed alert change, for listeners outside detection (live stream, webhooks, metrics). */
export interface AlertNotice {
  change: "created" | "updated";
  id: string;
  ruleId: string;
  ruleTitle: string;
  level: string;
  tags: string[];
  /** The score at creation; merges do not rescore. */
  score: number | null;
  count: number;
  agentId: string;
  hostname: string;
  entityKind: string;
  entityValue: string;
  caseId: string | null;
  firstSeen: number;
  lastSeen: number;
}

export interface AlertStats {
  created: number;
  merged: number;
  suppressed: number;
  /** Matches of rules that do not alert (SigmaHQ pack rules below medium): entity risk only. */
  signals: number;
  /** Correlation firings already recorded (redelivered, replayed after failover): revised, never counted again. */
  replayed: number;
}

interface Deps {
  repo: AlertRepository;
  suppressions: SuppressionService;
  feedback: FeedbackWeightStore;
  chain: ChainIndex;
  risk: EntityRiskService;
  cases: CaseChaining;
  /** Correlation firings recorded so far; without it a firing computed twice alerts twice. */
  firings?: CorrelationFiringRepository;
  dedup?: DedupConfig;
  now?: () => number;
}

const MAX_OPEN_CACHE = 20_000;
/** Firing keys are kept this long: far past any replay of a correlation's windows. */
const FIRING_KEEP_MS = 7 * 86_400_000;
const FIRING_PRUNE_EVERY_MS = 3_600_000;

/**
 * Rule matches → alerts. Per match: suppressions first (counted, nothing stored), then dedup (the
 * same rule on the same entity and host within the window updates one alert: count, first/last
 * seen), otherwise a new alert scored with its full context, chained into a case, raising entity
 * risk. A chunk's writes (alerts, cases, risks, baselines, suppression hits) commit together.
 */
export class AlertService implements AlertSink {
  private readonly openByKey = new Map<string, OpenAlert | null>();
  readonly stats: AlertStats = { created: 0, merged: 0, suppressed: 0, signals: 0, replayed: 0 };
  private prunedAt = 0;
  private readonly now: () => number;
  private readonly dedupCfg: DedupConfig;
  private readonly alertListeners: Array<(a: AlertNotice) => void> = [];

  constructor(private readonly deps: Deps) {
    this.now = deps.now ?? Date.now;
    this.dedupCfg = deps.dedup ?? DEFAULT_DEDUP_CONFIG;
    deps.cases.onResolved(() => this.openByKey.clear());
  }

  /** Called after each commit with the alerts it created or merged into; a throwing listener is ignored. */
  onAlert(l: (a: AlertNotice) => void): void {
    this.alertListeners.push(l);
  }

  async record(matches: PipelineMatch[], writes: Stmt[]): Promise<void> {
    const inserts = new Map<string, NewAlert>();
    const updates = new Map<string, OpenAlert>();
    const candidates = matches.map(buildCandidate);
    const keys = candidates.flatMap((c) => (c.firingKey === undefined ? [] : [c.firingKey]));
    const recorded = keys.length && this.deps.firings ? await this.deps.firings.seen(keys) : new Set<string>();
    const firings: { key: string; alertId: string }[] = [];
    for (const c of candidates) {
      const pm = c.pm;
      if (this.deps.suppressions.match({ ruleId: c.ruleId, agentTags: pm.agentTags, fields: c.contextFields })) {
        this.stats.suppressed++;
        continue;
      }
      // The same firing again (redelivered, or replayed by a partition's new owner): at most a revision.
      const replayed = c.firingKey !== undefined && recorded.has(c.firingKey);
      if (replayed) this.stats.replayed++;
      else if (c.firingKey !== undefined) recorded.add(c.firingKey);
      if (pm.signalOnly) {
        if (replayed) continue;
        this.signal(c);
        continue;
      }
      const open = await this.findOpen(c.dedupKey);
      // Our key adds the host to the library's (rule, entity) key; the window logic is the library's.
      const ref = { ruleId: c.ruleId, entity: c.primary };
      const mergeable = open && shouldMerge({ ...open, dedupKey: dedupKey(c.ruleId, c.primary) }, ref, c.timeMs, this.dedupCfg);
      // A correlation's update revises the alert it fired early: never a new alert, never counted again.
      if (pm.match.update || replayed) {
        if (open && mergeable) {
          this.revise(open, c);
          if (!inserts.has(open.id)) updates.set(open.id, open);
        }
        continue;
      }
      if (open && mergeable) {
        this.merge(open, c);
        // An alert created earlier in this chunk is inserted with its merged state.
        if (!inserts.has(open.id)) updates.set(open.id, open);
        this.stats.merged++;
        if (c.firingKey !== undefined) firings.push({ key: c.firingKey, alertId: open.id });
        continue;
      }
      const created = this.create(c);
      inserts.set(created.open.id, created);
      if (c.firingKey !== undefined) firings.push({ key: c.firingKey, alertId: created.open.id });
    }
    const now = this.now();
    const merges: AlertMerge[] = [...updates.values()].map((o) => ({ id: o.id, count: o.count, firstSeen: o.firstSeenMs, lastSeen: o.lastSeenMs, eventRefs: o.eventRefs, eventFields: o.eventFields }));
    const also = [...this.deps.cases.takeWrites(), ...this.deps.risk.takeWrites(), ...this.deps.suppressions.takeWrites(), ...writes, ...this.firingWrites(firings, now)];
    try {
      await this.deps.repo.upsertBatch([...inserts.values()].map(newAlertRow), merges, also, now);
    } catch (err) {
      // The cache may now describe alerts that were not stored; reload from the database next time.
      this.openByKey.clear();
      throw err;
    }
    this.deps.cases.announceCommitted();
    if (this.alertListeners.length) this.announce(inserts, updates);
  }

  private announce(inserts: Map<string, NewAlert>, updates: Map<string, OpenAlert>): void {
    const notices: AlertNotice[] = [];
    for (const a of inserts.values()) {
      const m = a.c.pm.match;
      notices.push({
        change: "created",
        id: a.open.id,
        ruleId: a.c.ruleId,
        ruleTitle: m.rule.title,
        level: m.rule.level,
        tags: m.rule.tags,
        score: a.score,
        count: a.open.count,
        agentId: a.c.pm.agentId,
        hostname: a.c.pm.hostname,
        entityKind: a.c.primary.kind,
        entityValue: a.c.primary.id,
        caseId: a.caseId,
        firstSeen: a.open.firstSeenMs,
        lastSeen: a.open.lastSeenMs,
      });
    }
    for (const o of updates.values()) {
      notices.push({
        change: "updated",
        id: o.id,
        ruleId: "",
        ruleTitle: "",
        level: "",
        tags: [],
        score: null,
        count: o.count,
        agentId: "",
        hostname: "",
        entityKind: "",
        entityValue: "",
        caseId: null,
        firstSeen: o.firstSeenMs,
        lastSeen: o.lastSeenMs,
      });
    }
    for (const n of notices) {
      for (const l of this.alertListeners) {
        try {
          l(n);
        } catch {
          // Listeners (stream, webhooks) must not fail detection; they count their own errors.
        }
      }
    }
  }

  private firingWrites(firings: { key: string; alertId: string }[], now: number) {
    if (!this.deps.firings || (firings.length === 0 && now - this.prunedAt < FIRING_PRUNE_EVERY_MS)) return [];
    const prune = now - this.prunedAt >= FIRING_PRUNE_EVERY_MS;
    if (prune) this.prunedAt = now;
    return this.deps.firings.recordWrites(firings, now, prune ? now - FIRING_KEEP_MS : undefined);
  }

  /** An API state change (ack, feedback, case resolve) makes the cache entry stale. */
  forget(dedupKey: string): void {
    this.openByKey.delete(dedupKey);
  }

  private async findOpen(key: string): Promise<OpenAlert | undefined> {
    const cached = this.openByKey.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const r = await this.deps.repo.openByDedupKey(key);
    const open: OpenAlert | null = r
      ? { id: r.id, dedupKey: key, firstSeenMs: r.firstSeen, lastSeenMs: r.lastSeen, count: r.count, state: r.state, eventRefs: r.eventRefs, eventFields: r.eventFields }
      : null;
    this.remember(key, open);
    return open ?? undefined;
  }

  private remember(key: string, open: OpenAlert | null): void {
    // Oldest entries go first (Map keeps insertion order); a miss later reloads from the database.
    if (this.openByKey.size >= MAX_OPEN_CACHE) this.openByKey.delete(this.openByKey.keys().next().value!);
    this.openByKey.delete(key);
    this.openByKey.set(key, open);
  }

  /**
   * A correlation's final version of an early firing. When the alert holds that firing alone, its
   * evidence and times become the final version's (as a replay would have made them); when other
   * firings merged into it, the final events are added to the evidence.
   */
  private revise(open: OpenAlert, c: AlertCandidate): void {
    if (open.count > 1) return this.merge(open, c, false);
    open.firstSeenMs = c.firstSeenMs;
    open.lastSeenMs = c.timeMs;
    open.eventRefs = [...c.eventRefs];
    open.eventFields = [...c.eventFields];
  }

  private merge(open: OpenAlert, c: AlertCandidate, counts = true): void {
    if (counts) open.count++;
    open.firstSeenMs = Math.min(open.firstSeenMs, c.firstSeenMs);
    open.lastSeenMs = Math.max(open.lastSeenMs, c.timeMs);
    open.eventRefs = keepEventRefs(open.eventRefs, c.eventRefs);
    open.eventFields = keepEventFields(open.eventFields, c.eventFields);
  }

  /**
   * A non-alerting match: scored like an alert would be, then only raises the risk of its entities
   * (written with the chunk) and joins the chain index, so an alert on the same entities soon after
   * scores higher. No alert row, no case. Correlations already saw it inside the engine.
   */
  private signal(c: AlertCandidate): void {
    const { score, tactics } = this.score(c);
    this.deps.chain.add({ ruleId: c.ruleId, ruleTitle: c.pm.match.rule.title, timeMs: c.timeMs, entities: c.entities, tactics });
    for (const e of c.entities) this.deps.risk.raise(e, score, c.timeMs);
    this.stats.signals++;
  }

  private score(c: AlertCandidate): { score: number; breakdown: ScoreFactor[]; tactics: ReturnType<typeof tacticsFromTags> } {
    const m = c.pm.match;
    const tactics = tacticsFromTags(m.rule.tags);
    return {
      tactics,
      ...scoreAlert({
        ruleId: c.ruleId,
        level: m.rule.level,
        timeMs: c.timeMs,
        entities: c.entities,
        tactics,
        iocConfidences: c.iocHits.map((h) => h.confidence),
        agentTags: c.pm.agentTags,
        deviations: c.deviations,
        relatedAlerts: this.deps.chain.related(c.entities),
        feedbackWeight: this.deps.feedback.weight(c.ruleId, c.primary),
        // The explanation names the host, not its agent id.
        entityLabels: c.pm.hostname ? new Map([[entityKey({ kind: "host", id: c.pm.agentId }), `host ${c.pm.hostname}`]]) : undefined,
      }),
    };
  }

  private create(c: AlertCandidate): NewAlert {
    const m = c.pm.match;
    const { score, breakdown, tactics } = this.score(c);
    const id = randomUUID();
    this.deps.chain.add({ ruleId: c.ruleId, ruleTitle: c.pm.match.rule.title, timeMs: c.timeMs, entities: c.entities, tactics });
    for (const e of c.entities) this.deps.risk.raise(e, score, c.timeMs);
    const caseId = this.deps.cases.attach({
      id,
      ruleTitle: m.rule.title,
      hostname: c.pm.hostname,
      agentId: c.pm.agentId,
      score,
      entities: c.entities,
      firstSeenMs: c.firstSeenMs,
      timeMs: c.timeMs,
    });
    const open: OpenAlert = {
      id,
      dedupKey: c.dedupKey,
      firstSeenMs: c.firstSeenMs,
      lastSeenMs: c.timeMs,
      count: 1,
      state: "new",
      eventRefs: [...c.eventRefs],
      eventFields: [...c.eventFields],
    };
    this.remember(c.dedupKey, open);
    this.stats.created++;
    return { c, open, score, breakdown, caseId, createdAt: this.now() };
  }
}

interface NewAlert {
  c: AlertCandidate;
  open: OpenAlert;
  score: number;
  breakdown: ScoreFactor[];
  caseId: string;
  createdAt: number;
}

function newAlertRow(a: NewAlert): NewAlertRow {
  const { c, open: o } = a;
  const m = c.pm.match;
  return {
    id: o.id,
    ruleId: c.ruleId,
    ruleTitle: m.rule.title,
    ruleLevel: m.rule.level,
    ruleTags: m.rule.tags,
    kind: m.kind,
    correlationType: m.correlationType ?? null,
    agentId: c.pm.agentId,
    hostname: c.pm.hostname,
    entityKind: c.primary.kind,
    entityValue: c.primary.id,
    entities: c.entities.map(entityKey),
    dedupKey: c.dedupKey,
    score: a.score,
    breakdown: a.breakdown,
    count: o.count,
    firstSeen: o.firstSeenMs,
    lastSeen: o.lastSeenMs,
    createdAt: a.createdAt,
    caseId: a.caseId,
    eventRefs: o.eventRefs,
    eventFields: o.eventFields,
    groupBy: m.groupBy ?? null,
    iocHits: c.iocHits,
  };
}
