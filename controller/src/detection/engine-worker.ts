/**
 * The detection worker (a worker_threads thread): compiles the rules and runs the per-agent Sigma
 * engines, so matching never holds the thread that serves the API and ingest (issue #10: one
 * backtracking rule froze /api/v1/healthz for 18 s). It tells the host's watchdog which event and
 * rule it is on through shared Int32 slots, measures each event, abandons one that is over the
 * budget at the next rule boundary (no restart, correlation state kept), and reports it. A single
 * rule test that runs on is the watchdog's to stop. Time is charged as min(wall, process CPU): both
 * bound this thread's own CPU time (Node 20 cannot read a thread's), so an event is not charged
 * for the time a loaded host kept the thread off a core.
 *
 * Started by EngineHost with a WorkerInit as workerData; speaks engine-protocol.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { BUILTIN_RULES, CompileCache, compileRules, type Match, type RuleSet, type SigmaEvent } from "@vigil/detection";
import { applyPackPolicy } from "../sigmahq/pack";
import { EnginePool } from "./engine-pool";
import type { EventMeta } from "./event-meta";
import { processCpuMs } from "./cpu-clock";
import { SLOT, type AgentMatches, type FromWorker, type RuleSource, type SlowEvent, type ToWorker, type WireMatch, type WorkerInit } from "./engine-protocol";

/** Thrown from the engine's onRule probe to abandon an event that is over the budget. */
const OVER_BUDGET = new Error("detection budget exceeded");

class DetectionWorker {
  private readonly progress: Int32Array;
  private readonly cache = new CompileCache();
  private readonly overrides: Map<string, boolean>;
  private readonly metas = new WeakMap<SigmaEvent, EventMeta>();
  private readonly pool: EnginePool;
  private nowMs = Date.now();
  // Per-event rule timing, fed by the engine's onRule probe.
  private current = -1;
  private currentAt = 0;
  private worst = 0;
  private worstRule = -1;
  private eventStart = 0;
  private eventCpuStart = 0;
  /** Events (not clock steps) are abandoned at the first rule boundary past the budget. */
  private abortable = false;

  constructor(
    private readonly init: WorkerInit,
    private readonly send: (m: FromWorker) => void,
  ) {
    this.progress = new Int32Array(init.progress);
    this.overrides = new Map(init.overrides);
    const ruleset = this.compile(init.uploaded);
    const onRule = (ri: number): void => this.enterRule(ri);
    this.pool = new EnginePool(
      ruleset,
      () => this.overrides,
      { outOfOrderToleranceMs: init.reorderToleranceMs, onRule },
      () => this.nowMs,
    );
    this.announce(ruleset);
  }

  handle(m: ToWorker): void {
    switch (m.t) {
      case "process":
        return this.process(m.id, m.nowMs, m.items);
      case "advance":
        this.nowMs = m.nowMs;
        return this.guarded(m.id, () => this.pool.advanceQuiet(m.quietMs));
      case "flush":
        this.nowMs = m.nowMs;
        return this.guarded(m.id, () => this.pool.flushAll());
      case "rules": {
        const ruleset = this.compile(m.uploaded);
        this.pool.swap(ruleset);
        this.announce(ruleset);
        return this.send({ t: "done", id: m.id, engines: this.pool.size, slow: [], groups: [] });
      }
      case "enabled":
        this.overrides.set(m.ruleId, m.on);
        this.pool.setEnabled(m.ruleId, m.on);
        return this.send({ t: "done", id: m.id, engines: this.pool.size, slow: [], groups: [] });
    }
  }

  private process(id: number, nowMs: number, items: { agentId: string; ev: SigmaEvent; meta: EventMeta }[]): void {
    this.nowMs = nowMs;
    const slow: SlowEvent[] = [];
    Atomics.store(this.progress, SLOT.request, id);
    for (let index = 0; index < items.length; index++) {
      const it = items[index];
      this.metas.set(it.ev, it.meta);
      const t0 = this.begin(index);
      let matches: Match[] = [];
      let skipped = false;
      this.abortable = true;
      try {
        matches = this.pool.process(it.agentId, it.ev);
      } catch (e) {
        if (e !== OVER_BUDGET) throw e;
        // The engine was between two rules: nothing of this event was applied, nothing is lost.
        skipped = true;
      } finally {
        this.abortable = false;
      }
      const ms = this.end(t0);
      if (ms > this.init.budgetMs) slow.push({ index, ruleIndex: this.worstRule, ms, skipped });
      // Sent at once: if a later event gets this worker terminated, these are not lost.
      if (matches.length) this.send({ t: "item", id, index, matches: matches.map((x) => this.wire(x)) });
    }
    this.send({ t: "done", id, engines: this.pool.size, slow, groups: [] });
  }

  /** Clock-driven work (quiet agents, shutdown) is watched like an event (index -1). */
  private guarded(id: number, f: () => { agentId: string; matches: Match[] }[]): void {
    Atomics.store(this.progress, SLOT.request, id);
    const t0 = this.begin(-1);
    const groups: AgentMatches[] = f().map((g) => ({ agentId: g.agentId, matches: g.matches.map((x) => this.wire(x)) }));
    const ms = this.end(t0);
    const slow = ms > this.init.budgetMs ? [{ index: -1, ruleIndex: this.worstRule, ms, skipped: false }] : [];
    this.send({ t: "done", id, engines: this.pool.size, slow, groups });
  }

  private begin(index: number): number {
    this.current = -1;
    this.worst = 0;
    this.worstRule = -1;
    Atomics.store(this.progress, SLOT.index, index);
    Atomics.store(this.progress, SLOT.rule, -1);
    Atomics.add(this.progress, SLOT.seq, 1);
    Atomics.store(this.progress, SLOT.busy, 1);
    this.eventCpuStart = processCpuMs();
    this.eventStart = performance.now();
    return this.eventStart;
  }

  /** What the event is charged: its wall time, or its process CPU time when that is less (see the file comment). */
  private end(t0: number): number {
    Atomics.store(this.progress, SLOT.busy, 0);
    const t = performance.now();
    this.enterRule(-1, t);
    return t - t0 > this.init.budgetMs ? Math.min(t - t0, processCpuMs() - this.eventCpuStart) : t - t0;
  }

  /** The time since the previous rule started is charged to that rule. */
  private enterRule(ri: number, t = performance.now()): void {
    if (this.current >= 0 && t - this.currentAt > this.worst) {
      this.worst = t - this.currentAt;
      this.worstRule = this.current;
    }
    this.current = ri;
    this.currentAt = t;
    if (ri < 0) return;
    Atomics.store(this.progress, SLOT.rule, ri);
    // The wall clock first (cheap); the CPU clock (a syscall) only once the wall clock is past the budget.
    if (this.abortable && t - this.eventStart > this.init.budgetMs && processCpuMs() - this.eventCpuStart > this.init.budgetMs) throw OVER_BUDGET;
  }

  private wire(match: Match): WireMatch {
    return { match, metas: match.events.map((e) => this.metas.get(e)) };
  }

  private compile(uploaded: RuleSource[]): RuleSet {
    // Same inputs, same order as RuleCatalog, so indices and ids agree; only changed files compile.
    const { ruleset } = compileRules([...BUILTIN_RULES, ...uploaded], { cache: this.cache });
    applyPackPolicy(ruleset); // SigmaHQ pack files ("sigmahq/…") among `uploaded`: Vigil's level changes and switch-offs
    return ruleset;
  }

  private announce(ruleset: RuleSet): void {
    this.send({ t: "ready", rules: ruleset.rules.map((r) => ({ id: r.id, title: r.title })) });
  }
}

if (parentPort) {
  const port = parentPort;
  const worker = new DetectionWorker(workerData as WorkerInit, (m) => port.postMessage(m));
  port.on("message", (m: ToWorker) => {
    try {
      worker.handle(m);
    } catch (e) {
      Atomics.store(new Int32Array((workerData as WorkerInit).progress), SLOT.busy, 0);
      port.postMessage({ t: "failed", id: m.id, message: e instanceof Error ? e.message : String(e) } satisfies FromWorker);
    }
  });
}
