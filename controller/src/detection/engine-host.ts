import type { Worker } from "node:worker_threads";
import type { Match } from "@vigil/detection";
import { processCpuMs } from "./cpu-clock";
import { setEventMeta } from "./event-meta";
import { PROGRESS_BYTES, SLOT, type AgentMatches, type FromWorker, type RuleSource, type ToWorker, type WireMatch, type WorkItem } from "./engine-protocol";
import { startWorker } from "./worker-launch";

/** Events per message to the worker. */
const MAX_ITEMS_PER_MESSAGE = 256;

/** One event (or clock step) that went over the detection time budget. */
export interface BudgetExceeded {
  /** The agent whose event it was; undefined for clock-driven work (quiet agents, shutdown). */
  agentId?: string;
  /** The rule that was being tested (or took longest), when known. */
  ruleId?: string;
  ruleTitle?: string;
  ms: number;
  /** True: the event was abandoned; false: it finished late. */
  skipped: boolean;
  /** Abandoned by terminating the worker (it was stuck in one rule test past twice the budget). */
  restarted: boolean;
}

export interface EngineHostOptions {
  reorderToleranceMs: number;
  /**
   * Longest one event may take in the worker: past it the event is abandoned at the next rule
   * boundary; one still in a single rule test at twice the budget is stuck, and the worker is
   * terminated.
   */
  budgetMs: number;
  /** The rules in force now; read at start and at every restart (state rebuilt from them). */
  rules: () => { uploaded: RuleSource[]; overrides: ReadonlyMap<string, boolean> };
  onBudgetExceeded: (e: BudgetExceeded) => void;
  onError?: (err: unknown) => void;
}

export interface EngineHostStats {
  engines: number;
  /** Events (or clock steps) over the budget, finished late or abandoned. */
  overBudget: number;
  /** Of those, events abandoned (by the worker between two rules, or by a restart). */
  skipped: number;
  restarts: number;
  /** An event is being matched right now. */
  busy: boolean;
}

type Outcome =
  | { k: "done"; engines: number; slow: { index: number; ruleIndex: number; ms: number; skipped: boolean }[]; groups: AgentMatches[] }
  /** abandoned at item `index`; `crashed`: the worker died by itself (not a budget matter) */
  | { k: "stuck"; index: number; ruleIndex: number; ms: number; crashed?: boolean }
  | { k: "failed"; message: string };

interface InFlight {
  id: number;
  results: Map<number, WireMatch[]>;
  stuck?: { index: number; ruleIndex: number; ms: number };
  resolve: (o: Outcome) => void;
}

interface Running {
  worker: Worker;
  slots: Int32Array;
  rules: { id: string; title: string }[];
  /** It compiled the rules and announced them. */
  ready: boolean;
}

/**
 * The main thread's side of the detection worker: sends it work, collects matches, and watches
 * it. The worker abandons an event over the budget itself, between two rules; the watchdog here
 * reads its progress slots and, when one event is still running at twice the budget (stuck in a
 * single rule test; time charged as in engine-worker.ts), terminates the worker (the only way to stop synchronous JavaScript), counts
 * and skips the event, and starts a fresh worker from the rules in force. The thread that serves
 * the API and ingest only ever waits on a promise.
 *
 * What a restart loses: held correlation state (partial windows, the reorder buffer), as a rule
 * change does; it refills within the correlation's timespan.
 */
export class EngineHost {
  private run?: Running;
  /**
   * After the first restart, a second worker is kept compiled and idle, so the next stuck event
   * costs twice the budget, not a recompile of every rule (seconds at thousands of rules).
   * Deployments that never see a stuck event never pay for it.
   */
  private spare?: Running;
  private nextId = 1;
  private inflight?: InFlight;
  private chain: Promise<unknown> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private lastSeq = -1;
  private seqSince = 0;
  private cpuSince = 0;
  private stuckRules: { id: string; title: string }[] = [];
  private closed = false;
  private readonly counts = { engines: 0, overBudget: 0, skipped: 0, restarts: 0 };

  constructor(private readonly o: EngineHostOptions) {
    this.ensure();
  }

  get stats(): EngineHostStats {
    const busy = this.run ? Atomics.load(this.run.slots, SLOT.busy) === 1 : false;
    return { ...this.counts, busy };
  }

  /** Matches of `items`, in event order; events over the budget are reported and skipped. */
  process(items: WorkItem[], nowMs: number): Promise<{ agentId: string; match: Match }[]> {
    return this.serial(async () => {
      const out: { agentId: string; match: Match }[] = [];
      let start = 0;
      while (start < items.length) {
        // Bounded messages: cloning one is main-thread work (events of up to 32 KiB command lines).
        const part = items.slice(start, start + MAX_ITEMS_PER_MESSAGE);
        const id = this.nextId++;
        const { outcome, results } = await this.request({ t: "process", id, nowMs, items: part });
        for (const [index, matches] of [...results].sort((a, b) => a[0] - b[0])) {
          for (const wm of matches) out.push({ agentId: part[index].agentId, match: this.unwire(wm) });
        }
        if (outcome.k === "failed") throw new Error(`detection worker: ${outcome.message}`);
        if (outcome.k === "done") {
          for (const s of outcome.slow) this.exceeded(part[s.index]?.agentId, s.ruleIndex, s.ms, s.skipped, false);
          this.counts.engines = outcome.engines;
          start += part.length;
          continue;
        }
        if (!outcome.crashed) this.exceeded(part[outcome.index]?.agentId, outcome.ruleIndex, outcome.ms, true, true);
        start += Math.max(outcome.index, 0) + 1;
      }
      return out;
    });
  }

  /** Advances quiet agents' event clocks (see EnginePool.advanceQuiet). */
  advanceQuiet(quietMs: number, nowMs: number): Promise<{ agentId: string; matches: Match[] }[]> {
    return this.serial(() => this.clockStep({ t: "advance", id: this.nextId++, nowMs, quietMs }));
  }

  /** Evaluates everything held, for shutdown. */
  flushAll(nowMs: number): Promise<{ agentId: string; matches: Match[] }[]> {
    return this.serial(() => this.clockStep({ t: "flush", id: this.nextId++, nowMs }));
  }

  /** New rules: the worker recompiles what changed and drops engines (as EnginePool.swap). */
  rulesChanged(uploaded: RuleSource[]): void {
    this.post({ t: "rules", id: 0, uploaded });
  }

  setEnabled(ruleId: string, on: boolean): void {
    this.post({ t: "enabled", id: 0, ruleId, on });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopWatchdog();
    const workers = [this.run?.worker, this.spare?.worker];
    this.run = undefined;
    this.spare = undefined;
    await Promise.all(workers.flatMap((w) => (w ? [w.terminate()] : [])));
  }

  private async clockStep(msg: Extract<ToWorker, { t: "advance" | "flush" }>): Promise<{ agentId: string; matches: Match[] }[]> {
    const { outcome } = await this.request(msg);
    if (outcome.k === "failed") throw new Error(`detection worker: ${outcome.message}`);
    if (outcome.k === "stuck") {
      if (!outcome.crashed) this.exceeded(undefined, outcome.ruleIndex, outcome.ms, true, true);
      return [];
    }
    for (const s of outcome.slow) this.exceeded(undefined, s.ruleIndex, s.ms, s.skipped, false);
    this.counts.engines = outcome.engines;
    return outcome.groups.map((g) => ({ agentId: g.agentId, matches: g.matches.map((wm) => this.unwire(wm)) }));
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const p = this.chain.then(f);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private request(msg: ToWorker & { id: number }): Promise<{ outcome: Outcome; results: Map<number, WireMatch[]> }> {
    if (this.closed) return Promise.resolve({ outcome: { k: "failed", message: "detection is stopped" }, results: new Map() });
    const results = new Map<number, WireMatch[]>();
    return new Promise((resolve) => {
      const run = this.ensure();
      // Held while a request is out (a flush at shutdown must finish); idle, it keeps nothing alive.
      run.worker.ref();
      this.inflight = {
        id: msg.id,
        results,
        resolve: (outcome) => {
          this.inflight = undefined;
          this.stopWatchdog();
          this.run?.worker.unref();
          resolve({ outcome, results });
        },
      };
      this.startWatchdog();
      run.worker.postMessage(msg);
    });
  }

  private post(msg: ToWorker): void {
    if (this.closed) return;
    this.ensure().worker.postMessage(msg);
    this.spare?.worker.postMessage(msg);
  }

  private ensure(): Running {
    if (this.run) return this.run;
    if (this.spare) {
      this.run = this.spare;
      this.spare = undefined;
    } else this.run = this.spawn();
    this.lastSeq = -1;
    if (this.counts.restarts > 0 && !this.closed) this.spare = this.spawn();
    return this.run;
  }

  private spawn(): Running {
    const { uploaded, overrides } = this.o.rules();
    // A fresh progress buffer per worker: a terminated one cannot scribble on its successor's.
    const progress = new SharedArrayBuffer(PROGRESS_BYTES);
    const worker = startWorker("engine-worker", {
      workerData: { uploaded, overrides: [...overrides], reorderToleranceMs: this.o.reorderToleranceMs, budgetMs: this.o.budgetMs, progress },
    });
    const run: Running = { worker, slots: new Int32Array(progress), rules: [], ready: false };
    worker.on("message", (m: FromWorker) => this.onMessage(run, m));
    worker.on("error", (err) => this.o.onError?.(err));
    worker.on("exit", () => this.onExit(run));
    worker.unref();
    return run;
  }

  private onMessage(run: Running, m: FromWorker): void {
    if (m.t === "ready") {
      run.rules = m.rules;
      run.ready = true;
      return;
    }
    const f = this.inflight;
    if (!f || m.id !== f.id) return; // replies to rules/enabled notices, or to an abandoned request
    if (m.t === "item") f.results.set(m.index, m.matches);
    else if (m.t === "done") f.resolve({ k: "done", engines: m.engines, slow: m.slow, groups: m.groups });
    else f.resolve({ k: "failed", message: m.message });
  }

  /** Node delivers the messages a worker posted before it ended ahead of 'exit', so none are lost. */
  private onExit(run: Running): void {
    if (this.spare === run) {
      this.spare = undefined;
      return;
    }
    if (this.run === run) this.run = undefined; // it died on its own: the next request starts another
    const f = this.inflight;
    if (!f || this.closed) return;
    if (f.stuck) f.resolve({ k: "stuck", ...f.stuck });
    else if (!run.ready) {
      // It never got as far as an event: failing the request (one chunk) beats a restart per event.
      this.counts.restarts++;
      f.resolve({ k: "failed", message: "the detection worker exited before it was ready" });
    } else {
      this.o.onError?.(new Error("detection worker exited unexpectedly; restarting it"));
      this.counts.restarts++;
      f.resolve({ k: "stuck", index: Atomics.load(run.slots, SLOT.index), ruleIndex: -1, ms: 0, crashed: true });
    }
  }

  private startWatchdog(): void {
    if (this.timer) return;
    const tick = Math.min(250, Math.max(2, Math.floor(this.o.budgetMs / 4)));
    this.lastSeq = -1;
    this.timer = setInterval(() => this.watch(), tick);
    this.timer.unref();
  }

  private stopWatchdog(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private watch(): void {
    const run = this.run;
    const f = this.inflight;
    if (!run || !f || f.stuck) return;
    const now = performance.now();
    const cpu = processCpuMs();
    const seq = Atomics.load(run.slots, SLOT.seq);
    if (Atomics.load(run.slots, SLOT.busy) !== 1 || seq !== this.lastSeq) {
      this.lastSeq = seq;
      this.seqSince = now;
      this.cpuSince = cpu;
      return;
    }
    // Stuck means twice the budget of running, not of waiting for a core on a loaded host: the
    // process's CPU time bounds the worker's too (see engine-worker.ts), so charge the lesser.
    const ms = Math.min(now - this.seqSince, cpu - this.cpuSince);
    if (ms < 2 * this.o.budgetMs) return;
    f.stuck = { index: Atomics.load(run.slots, SLOT.index), ruleIndex: Atomics.load(run.slots, SLOT.rule), ms };
    // The rule is named from this worker's table: its successor may not have announced one yet.
    this.stuckRules = run.rules;
    this.run = undefined;
    this.counts.restarts++;
    void run.worker.terminate();
  }

  private exceeded(agentId: string | undefined, ruleIndex: number, ms: number, skipped: boolean, restarted: boolean): void {
    this.counts.overBudget++;
    if (skipped) this.counts.skipped++;
    const table = restarted ? this.stuckRules : (this.run?.rules ?? []);
    const rule = ruleIndex >= 0 ? table[ruleIndex] : undefined;
    this.o.onBudgetExceeded({ agentId, ruleId: rule?.id, ruleTitle: rule?.title, ms: Math.round(ms), skipped, restarted });
  }

  private unwire(wm: WireMatch): Match {
    wm.match.events.forEach((ev, k) => {
      const meta = wm.metas[k];
      if (meta) setEventMeta(ev, meta);
    });
    return wm.match;
  }
}
