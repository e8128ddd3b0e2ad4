import { AuthAction, type Event } from "@vigil/proto";
import { matchEvent, toSigmaEvent, type IocHit, type Match } from "@vigil/detection";
import type { IngestWriter, StoredBatch } from "../ingest/ingest-writer";
import type { AgentDirectory } from "./agent-directory";
import { budgetMatch } from "./budget-alert";
import { EngineHost, type BudgetExceeded } from "./engine-host";
import type { WorkItem } from "./engine-protocol";
import type { AlertSink, EventMeta, PipelineMatch } from "./event-meta";
import type { IocCatalog } from "./ioc-catalog";
import type { LoginBaselines } from "./login-baselines";
import type { DetectionOptions } from "./options";
import type { RuleCatalog } from "./rule-catalog";

export interface PipelineStats {
  queuedEvents: number;
  queuedBatches: number;
  /** Highest queue depth seen, to size maxQueuedEvents. */
  queuePeak: number;
  /** Times ingest had to wait for detection (backpressure). */
  gateWaits: number;
  processedEvents: number;
  chunks: number;
  matches: number;
  iocHits: number;
  failures: number;
  engines: number;
  /** Events (or clock steps) that went over the per-event detection budget. */
  overBudget: number;
  /** Of those, events abandoned (between two rules, or by restarting a worker stuck in one). */
  skippedOverBudget: number;
  /** Detection worker restarts (an event stuck in one rule test past twice the budget, or a crash). */
  workerRestarts: number;
  /** The detection worker is matching an event right now. */
  workerBusy: boolean;
}

interface Deps {
  rules: RuleCatalog;
  iocs: IocCatalog;
  agents: AgentDirectory;
  baselines: LoginBaselines;
  sink: AlertSink;
  options: DetectionOptions;
  now?: () => number;
  onError?: (err: unknown) => void;
}

/**
 * Stored telemetry → IOC matching → Sigma (per-agent engines, in the detection worker) → alert sink.
 *
 * Sigma matching runs in a worker thread (EngineHost), under a per-event time budget, so no rule
 * and no event can hold the thread that serves the API and ingest. IOC matching and the mapping to
 * Sigma fields stay here: they are hash look-ups and copies, linear in the event, and the IOC
 * index (up to hundreds of thousands of entries) is not worth copying into another thread.
 *
 * Runs beside ingest, not inside it: committed batches are queued and processed in chunks by one
 * worker loop, so a slow rule or an alert storm never holds the ingest transaction. The queue is
 * bounded through a gate on the ingest writer: when it is over `maxQueuedEvents`, acks to agents
 * wait until detection catches up, so a backlog stays in the agents' spools instead of in memory.
 * Only fresh events are detected; replays of already stored (agent, seq) are skipped, so a
 * resent batch cannot alert twice.
 */
export class DetectionPipeline {
  private readonly queue: StoredBatch[] = [];
  private queuedEvents = 0;
  private readonly roomWaiters: Array<() => void> = [];
  private idleDue = false;
  private working = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private readonly engines: EngineHost;
  private readonly now: () => number;
  /** Rules (ids) a budget alert was raised for, since the rules last changed: one alert each. */
  private readonly budgetAlerted = new Set<string>();
  private budgetPending: BudgetExceeded[] = [];
  private readonly counts = { queuePeak: 0, gateWaits: 0, processedEvents: 0, chunks: 0, matches: 0, iocHits: 0, failures: 0 };
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly deps: Deps) {
    this.now = deps.now ?? Date.now;
    this.engines = new EngineHost({
      reorderToleranceMs: deps.options.reorderToleranceMs,
      budgetMs: deps.options.eventBudgetMs,
      rules: () => ({ uploaded: deps.rules.uploadedSources, overrides: deps.rules.enabledOverrides }),
      onBudgetExceeded: (e) => this.budgetPending.push(e),
      onError: (err) => deps.onError?.(err),
    });
    deps.rules.onRuleset(() => {
      this.budgetAlerted.clear();
      this.engines.rulesChanged(deps.rules.uploadedSources);
    });
    deps.rules.onEnabled((id, on) => this.engines.setEnabled(id, on));
  }

  /** Subscribes to ingest and starts the quiet-agent clock. */
  attach(writer: Pick<IngestWriter, "onStored" | "addGate">): void {
    writer.onStored((b) => this.enqueue(b));
    writer.addGate(() => this.waitForRoom());
    this.timer = setInterval(() => {
      this.idleDue = true;
      this.kick();
    }, this.deps.options.idleTickMs);
    this.timer.unref();
  }

  get stats(): PipelineStats {
    const h = this.engines.stats;
    return {
      ...this.counts,
      queuedEvents: this.queuedEvents,
      queuedBatches: this.queue.length,
      engines: h.engines,
      overBudget: h.overBudget,
      skippedOverBudget: h.skipped,
      workerRestarts: h.restarts,
      workerBusy: h.busy,
    };
  }

  enqueue(batch: StoredBatch): void {
    if (this.stopped) return;
    const n = batch.fresh.reduce((a, f) => a + (f ? 1 : 0), 0);
    if (n === 0) return;
    this.queue.push(batch);
    this.queuedEvents += n;
    this.counts.queuePeak = Math.max(this.counts.queuePeak, this.queuedEvents);
    this.kick();
  }

  /** Resolves when the queue is under its bound: the ingest gate. */
  waitForRoom(): Promise<void> {
    if (this.queuedEvents < this.deps.options.maxQueuedEvents || this.stopped) return Promise.resolve();
    this.counts.gateWaits++;
    return new Promise((r) => this.roomWaiters.push(r));
  }

  /** Resolves once everything queued so far has been processed (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.working && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Processes what is queued, then flushes every engine's held state into alerts. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.idle();
    this.stopped = true;
    this.releaseRoom();
    try {
      await this.emit(await this.engines.flushAll(this.now()));
    } catch (err) {
      this.counts.failures++;
      this.deps.onError?.(err);
    }
    await this.engines.close();
  }

  private kick(): void {
    if (this.working) return;
    this.working = true;
    void this.work();
  }

  private async work(): Promise<void> {
    try {
      while (this.queue.length || this.idleDue) {
        if (this.queue.length) await this.processChunk();
        else {
          this.idleDue = false;
          await this.emit(await this.engines.advanceQuiet(this.deps.options.idleTickMs, this.now()));
        }
        this.releaseRoom();
        // Give ingest and the API a turn between chunks.
        await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.working = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private releaseRoom(): void {
    if (this.queuedEvents >= this.deps.options.maxQueuedEvents && !this.stopped) return;
    const waiters = this.roomWaiters.splice(0);
    for (const w of waiters) w();
  }

  private async processChunk(): Promise<void> {
    const items: WorkItem[] = [];
    const agents = new Map<string, { hostname: string; tags: string[] }>();
    let budget = this.deps.options.chunkEvents;
    while (budget > 0 && this.queue.length) {
      const batch = this.queue.shift()!;
      const fresh = batch.fresh.reduce((a, f) => a + (f ? 1 : 0), 0);
      this.queuedEvents -= fresh;
      budget -= fresh;
      try {
        const agent = await this.deps.agents.info(batch.agentId);
        agents.set(batch.agentId, { hostname: agent.hostname, tags: agent.tags });
        batch.events.forEach((ev, i) => {
          if (!batch.fresh[i]) return;
          const item = this.prepare(batch.agentId, agent.hostname, ev);
          if (item) items.push(item);
        });
      } catch (err) {
        this.counts.failures++;
        this.deps.onError?.(err);
      }
    }
    const out: PipelineMatch[] = [];
    try {
      for (const { agentId, match } of await this.engines.process(items, this.now())) {
        const a = agents.get(agentId)!;
        out.push({ agentId, hostname: a.hostname, agentTags: a.tags, match });
      }
    } catch (err) {
      this.counts.failures++;
      this.deps.onError?.(err);
    }
    this.counts.chunks++;
    await this.deliver(out);
  }

  /** IOC matching and Sigma mapping of one event (here: linear); Sigma matching is the worker's. */
  private prepare(agentId: string, hostname: string, ev: Event): WorkItem | undefined {
    this.counts.processedEvents++;
    const index = this.deps.iocs.index;
    const hits: IocHit[] = index.size > 0 ? matchEvent(index, ev) : [];
    if (hits.length) this.counts.iocHits += hits.length;
    const sev = toSigmaEvent(ev, { agentId, hostname, iocMatches: hits.map((h) => ({ type: h.ioc.kind, value: h.ioc.value, source: h.ioc.source })) });
    if (!sev) return undefined;
    const meta: EventMeta = { iocHits: hits.map((h) => ({ kind: h.ioc.kind, value: h.ioc.value, confidence: h.ioc.confidence, source: h.ioc.source })) };
    const body = ev.body;
    if (body?.$case === "auth" && body.auth.action === AuthAction.AUTH_ACTION_LOGIN_SUCCESS && body.auth.user) {
      meta.deviations = this.deps.baselines.observe({ user: body.auth.user, sourceIp: body.auth.sourceIp || undefined, timeMs: ev.eventTimeMs });
    }
    return { agentId, ev: sev, meta };
  }

  /** One "detection budget exceeded" alert per rule (and host of the first offending event). */
  private async budgetAlerts(): Promise<PipelineMatch[]> {
    const pending = this.budgetPending;
    this.budgetPending = [];
    const out: PipelineMatch[] = [];
    for (const e of pending) {
      const key = e.ruleId ?? "";
      if (e.agentId === undefined || this.budgetAlerted.has(key)) continue;
      this.budgetAlerted.add(key);
      const agent = await this.deps.agents.info(e.agentId);
      out.push(budgetMatch({ ...e, agentId: e.agentId }, agent.hostname, agent.tags, this.deps.options.eventBudgetMs, this.now()));
    }
    return out;
  }

  private async emit(groups: { agentId: string; matches: Match[] }[]): Promise<void> {
    const out: PipelineMatch[] = [];
    for (const g of groups) {
      const agent = await this.deps.agents.info(g.agentId);
      for (const match of g.matches) out.push({ agentId: g.agentId, hostname: agent.hostname, agentTags: agent.tags, match });
    }
    await this.deliver(out);
  }

  private async deliver(out: PipelineMatch[]): Promise<void> {
    this.counts.matches += out.length;
    try {
      if (this.budgetPending.length) out = [...out, ...(await this.budgetAlerts())];
      for (const pm of out) if (!this.deps.rules.alerts(pm.match.rule.id)) pm.signalOnly = true;
      // Baselines changed in this chunk commit with its alerts.
      await this.deps.sink.record(out, this.deps.baselines.takeWrites());
    } catch (err) {
      this.counts.failures++;
      this.deps.onError?.(err);
    }
  }
}
