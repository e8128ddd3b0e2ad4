import { AuthAction, type Event } from "@vigil/proto";
import { matchEvent, toSigmaEvent, type IocHit, type Match } from "@vigil/detection";
import type { IngestWriter, StoredBatch } from "../ingest/ingest-writer";
import type { AgentDirectory } from "./agent-directory";
import { budgetMatch } from "./budget-alert";
import { LocalCorrelationRouter, type CorrelationOwner, type CorrelationRouter } from "./correlation-router";
import { EngineHost, type BudgetExceeded } from "./engine-host";
import type { OwnedInput, WorkItem } from "./engine-protocol";
import type { AlertSink, EventMeta, PipelineMatch } from "./event-meta";
import type { IocCatalog } from "./ioc-catalog";
import type { LoginBaselines } from "./login-baselines";
import type { DetectionOptions } from "./options";
import type { RuleCatalog } from "./rule-catalog";

/** A backlog is taken in chunks of up to this many times `chunkEvents` (see chunkBudget). */
const BACKLOG_CHUNKS = 5;

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
  /** Correlation inputs routed to the owners of their groups, and received here as an owner. */
  correlationRouted: number;
  correlationReceived: number;
  /** Correlation inputs waiting for this process's windows. */
  correlationQueued: number;
  /** Routed inputs that could not be handed over (the bus refused them). */
  correlationRouteFailures: number;
  /** Inputs read back from the bus that failed their checks (counted and skipped). */
  correlationRejected: number;
  /** Correlation partitions this process owns (all of them in single-process mode). */
  correlationPartitions: number;
  /** Milliseconds spent in each stage since start: where detection's time goes when it falls behind. */
  stageMs: DetectionStageMs;
}

/** What detection needs of a batch: its events, and which of them are new (a replay's are not). */
export type DetectBatch = Pick<StoredBatch, "agentId" | "events" | "fresh">;

/** A batch from a stream consumer (DetectionConsumer): its partition, and what to call once detection is finished with it. */
export interface FeedTag {
  partition: number;
  done: () => void;
}

/** A queued batch with the count of its fresh events (what the queue's bound counts). */
type QueuedBatch = DetectBatch & { freshCount: number; tag?: FeedTag };

/** lookup: agents' names; prepare: IOC matching and Sigma mapping; match: the worker's rules; route: correlation inputs to their owners; clocks: hosts' clocks to owners; correlate: owned windows; record: alerts written. */
export interface DetectionStageMs {
  lookup: number;
  prepare: number;
  match: number;
  route: number;
  clocks: number;
  correlate: number;
  record: number;
}

interface Deps {
  rules: RuleCatalog;
  iocs: IocCatalog;
  agents: AgentDirectory;
  baselines: LoginBaselines;
  sink: AlertSink;
  options: DetectionOptions;
  /** Where correlation inputs go (the owners of their groups); default in-process (this process owns all). */
  router?: CorrelationRouter;
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
 *
 * Correlations are cross-host (issue #12): a match that feeds a correlation is routed by the
 * correlation's group-by value (CorrelationRouter) to the owner of that group, whose windows run in
 * its detection worker; as an owner this pipeline takes routed inputs (`accept`) in the same serial
 * loop as stored events, and their alerts go to the same sink (idempotent per firing).
 */
export class DetectionPipeline implements CorrelationOwner {
  private readonly queue: QueuedBatch[] = [];
  /** Routed inputs for this process's windows, and (in order with them) hosts' clock notices. */
  private readonly corrQueue: { inputs: OwnedInput[]; clocks?: Map<string, number>; done: () => void }[] = [];
  private corrQueued = 0;
  private readonly router: CorrelationRouter;
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
  private readonly counts = { queuePeak: 0, gateWaits: 0, processedEvents: 0, chunks: 0, matches: 0, iocHits: 0, failures: 0, correlationRouteFailures: 0 };
  private idleWaiters: Array<() => void> = [];
  private readonly stageMs: DetectionStageMs = { lookup: 0, prepare: 0, match: 0, route: 0, clocks: 0, correlate: 0, record: 0 };

  constructor(private readonly deps: Deps) {
    this.now = deps.now ?? Date.now;
    this.router = deps.router ?? new LocalCorrelationRouter();
    this.engines = new EngineHost({
      reorderToleranceMs: deps.options.reorderToleranceMs,
      quietMs: deps.options.idleTickMs,
      budgetMs: deps.options.eventBudgetMs,
      rules: () => ({ uploaded: deps.rules.uploadedSources, overrides: deps.rules.enabledOverrides }),
      onBudgetExceeded: (e) => this.budgetPending.push(e),
      onError: (err) => deps.onError?.(err),
      // The restarted worker starts with no windows: the router feeds them again where it can.
      onRestart: () => void this.router.rebuild().catch((err: unknown) => deps.onError?.(err)),
    });
    deps.rules.onRuleset(() => {
      this.budgetAlerted.clear();
      this.engines.rulesChanged(deps.rules.uploadedSources);
    });
    deps.rules.onEnabled((id, on) => this.engines.setEnabled(id, on));
  }

  /** Starts taking the routed inputs of the partitions this process owns (all of them in-process). */
  startCorrelation(): Promise<void> {
    return this.router.start(this);
  }

  /**
   * Single-process mode: takes what the ingest writer stores, and holds its acks (the gate) while
   * the queue is full. Starts the quiet-partition clock.
   */
  attach(writer: Pick<IngestWriter, "onStored" | "addGate">): void {
    writer.onStored((b) => this.enqueue(b));
    writer.addGate(() => this.waitForRoom());
    this.startClock();
  }

  /**
   * Distributed mode: batches come from DetectionConsumer (enqueue with a tag; it waits for room
   * itself), so storage never waits for detection. Starts the quiet-partition clock.
   */
  startClock(): void {
    if (this.timer) return;
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
      correlationRouted: this.router.stats.routed,
      correlationReceived: this.router.stats.received,
      correlationQueued: this.corrQueued,
      correlationRejected: this.router.stats.rejected,
      correlationPartitions: this.router.stats.owned,
      stageMs: { ...this.stageMs },
    };
  }

  /** CorrelationOwner: routed inputs of owned partitions, processed in turn with stored events. */
  accept(inputs: OwnedInput[]): Promise<void> {
    if (this.stopped || inputs.length === 0) return Promise.resolve();
    return new Promise((done) => {
      this.corrQueue.push({ inputs, done });
      this.corrQueued += inputs.length;
      this.kick();
    });
  }

  /** CorrelationOwner: hosts' clocks, in turn with routed inputs. Skipped while no group is held (a worker round trip less). */
  clocks(newest: ReadonlyMap<string, number>): Promise<void> {
    if (this.stopped || newest.size === 0 || (this.engines.stats.engines === 0 && this.corrQueued === 0)) return Promise.resolve();
    return new Promise((done) => {
      this.corrQueue.push({ inputs: [], clocks: new Map(newest), done });
      this.kick();
    });
  }

  /** CorrelationOwner: partitions lost; queued inputs of theirs are left to the next owner. */
  async drop(partitions: number[]): Promise<void> {
    const lost = new Set(partitions);
    for (const q of this.corrQueue) {
      const keep = q.inputs.filter((i) => !lost.has(i.partition));
      this.corrQueued -= q.inputs.length - keep.length;
      q.inputs = keep;
    }
    await this.engines.dropPartitions(partitions);
  }

  /** Queues a batch's fresh events; `tag.done` is called once they have been matched, routed and recorded (at once if none is fresh). */
  enqueue(batch: DetectBatch, tag?: FeedTag): void {
    if (this.stopped) return;
    const n = batch.fresh.reduce((a, f) => a + (f ? 1 : 0), 0);
    if (n === 0) {
      tag?.done();
      return;
    }
    this.queue.push({ agentId: batch.agentId, events: batch.events, fresh: batch.fresh, freshCount: n, tag });
    this.queuedEvents += n;
    this.counts.queuePeak = Math.max(this.counts.queuePeak, this.queuedEvents);
    this.kick();
  }

  /**
   * A partition's batches not yet taken are forgotten (its lease is lost, or its consumer restarts
   * from its offset): whoever reads it next detects them from the stream. Their `done` is never called.
   */
  dropPartition(partition: number): void {
    const all = this.queue.splice(0);
    for (const q of all) {
      if (q.tag?.partition === partition) this.queuedEvents -= q.freshCount;
      else this.queue.push(q);
    }
    this.releaseRoom();
  }

  /** Resolves when the queue is under its bound: the ingest gate. */
  waitForRoom(): Promise<void> {
    if (this.queuedEvents < this.deps.options.maxQueuedEvents || this.stopped) return Promise.resolve();
    this.counts.gateWaits++;
    return new Promise((r) => this.roomWaiters.push(r));
  }

  /** Resolves once everything queued so far has been processed (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.working && this.queue.length === 0 && this.corrQueue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Processes what is queued, then flushes every engine's held state into alerts. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.idle();
    this.stopped = true;
    this.releaseRoom();
    await this.router.stop();
    try {
      await this.emit(await this.engines.flushAll(this.now()));
    } catch (err) {
      this.counts.failures++;
      this.deps.onError?.(err);
    }
    for (const q of this.corrQueue.splice(0)) q.done();
    await this.engines.close();
  }

  private kick(): void {
    if (this.working) return;
    this.working = true;
    void this.work();
  }

  private async work(): Promise<void> {
    try {
      // Routed inputs and stored batches take turns: a flood of either (a partition's replay after
      // a takeover) must not starve the other, and stored batches hold storage through the gate.
      let storedTurn = false;
      while (this.queue.length || this.corrQueue.length || this.idleDue) {
        if (this.corrQueue.length && !(storedTurn && this.queue.length)) {
          await this.correlateChunk();
          storedTurn = true;
        } else if (this.queue.length) {
          await this.processChunk();
          storedTurn = false;
        } else {
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
    const taken: FeedTag[] = [];
    try {
      await this.processChunkOf(taken);
    } finally {
      // Matched, routed and recorded (or counted as failed, as in single-process mode): the feed may move its offset past them.
      for (const tag of taken) tag.done();
    }
  }

  private async processChunkOf(taken: FeedTag[]): Promise<void> {
    const items: WorkItem[] = [];
    const agents = new Map<string, { hostname: string; tags: string[] }>();
    const newest = new Map<string, number>();
    let budget = this.chunkBudget();
    let t = performance.now();
    await this.prefetchAgents(budget);
    t = this.lap("lookup", t);
    while (budget > 0 && this.queue.length) {
      const batch = this.queue.shift()!;
      if (batch.tag) taken.push(batch.tag);
      this.queuedEvents -= batch.freshCount;
      budget -= batch.freshCount;
      try {
        t = this.lap("prepare", t);
        const agent = await this.deps.agents.info(batch.agentId);
        t = this.lap("lookup", t);
        agents.set(batch.agentId, { hostname: agent.hostname, tags: agent.tags });
        batch.events.forEach((ev, i) => {
          if (!batch.fresh[i]) return;
          if (Number.isFinite(ev.eventTimeMs) && ev.eventTimeMs > (newest.get(batch.agentId) ?? -Infinity)) newest.set(batch.agentId, ev.eventTimeMs);
          const item = this.prepare(batch.agentId, agent.hostname, ev);
          if (item) items.push(item);
        });
      } catch (err) {
        this.counts.failures++;
        this.deps.onError?.(err);
      }
    }
    const out: PipelineMatch[] = [];
    t = this.lap("prepare", t);
    try {
      const { matches, routed } = await this.engines.process(items, this.now());
      t = this.lap("match", t);
      for (const { agentId, match } of matches) {
        const a = agents.get(agentId)!;
        out.push({ agentId, hostname: a.hostname, agentTags: a.tags, match });
      }
      if (routed.length) await this.route(routed);
      t = this.lap("route", t);
      // After the inputs they routed: the hosts' clocks move the groups they feed, wherever those are owned.
      if (newest.size) await this.router.clocks(newest);
      this.lap("clocks", t);
    } catch (err) {
      this.counts.failures++;
      this.deps.onError?.(err);
    }
    this.counts.chunks++;
    await this.deliver(out);
  }

  /**
   * Events for the next chunk: `chunkEvents`, and up to BACKLOG_CHUNKS times that while a backlog
   * waits. A chunk's costs are mostly per chunk, not per event (agents' names, one worker round
   * trip, one routing publish, one alert transaction), so a backlog is worked off in bigger chunks;
   * the event loop still gets a turn at each of those awaits.
   */
  private chunkBudget(): number {
    const base = this.deps.options.chunkEvents;
    return Math.max(base, Math.min(BACKLOG_CHUNKS * base, Math.floor(this.queuedEvents / 2)));
  }

  /** Adds the time since `since` to a stage; returns now, the next stage's start. */
  private lap(stage: keyof DetectionStageMs, since: number): number {
    const now = performance.now();
    this.stageMs[stage] += now - since;
    return now;
  }

  /** The agents of the batches the next chunk will take, looked up together. */
  private async prefetchAgents(budget: number): Promise<void> {
    const ids = new Set<string>();
    for (let i = 0; i < this.queue.length && budget > 0; i++) {
      ids.add(this.queue[i].agentId);
      budget -= this.queue[i].events.length;
    }
    if (ids.size > 1) await this.deps.agents.prefetch(ids);
  }

  private async route(routed: Parameters<CorrelationRouter["route"]>[0]): Promise<void> {
    try {
      await this.router.route(routed);
    } catch (err) {
      this.counts.correlationRouteFailures += routed.length;
      throw err;
    }
  }

  /** Routed inputs (up to a chunk's worth) into this process's correlation windows; their alerts to the sink. */
  private async correlateChunk(): Promise<void> {
    const take: { inputs: OwnedInput[]; done: () => void }[] = [];
    const first = this.corrQueue[0];
    let budget = this.deps.options.chunkEvents;
    while (!first.clocks && budget > 0 && this.corrQueue.length && !this.corrQueue[0].clocks) {
      const q = this.corrQueue.shift()!;
      take.push(q);
      budget -= q.inputs.length;
      this.corrQueued -= q.inputs.length;
    }
    const t = performance.now();
    try {
      if (first.clocks) {
        this.corrQueue.shift();
        take.push(first);
        await this.emit(await this.engines.clocks(first.clocks, this.now()));
      } else {
        await this.emit(
          await this.engines.correlate(
            take.flatMap((q) => q.inputs),
            this.now(),
          ),
        );
      }
    } catch (err) {
      this.counts.failures++;
      this.deps.onError?.(err);
    } finally {
      this.lap("correlate", t);
      for (const q of take) q.done();
    }
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
      // Baselines changed since their last write commit with this chunk's alerts (all of them once stopping).
      const t = performance.now();
      await this.deps.sink.record(out, this.deps.baselines.takeWrites(this.stopped));
      this.lap("record", t);
    } catch (err) {
      this.counts.failures++;
      this.deps.onError?.(err);
    }
  }
}
