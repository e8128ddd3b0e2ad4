import { CommandStatus, type Event, type PolicyUpdate } from "@vigil/proto";
import { ActionPlanner, LocalEvaluator, PolicyStore, type RuleHit, type SlowEvaluation } from "../policy";
import type { LocalPolicyDocument } from "../policy/policy-document";
import type { Log } from "../util/log";
import { type CommandGateway, localResult } from "./command-gateway";

export interface LocalPolicyOptions {
  stateDir: string;
  agentId: string;
  hostname: () => string;
  gateway: CommandGateway;
  /** The pinned controller key; undefined until pinned (then no policy can be trusted). */
  key: () => Buffer | undefined;
  isIsolated: () => boolean;
  /** Durable note for the controller (policy applied / refused). */
  note: (kind: string, message: string, attributes: Record<string, string>) => void;
  log: Log;
  /** Per-event evaluation budget (ms); an event over it is counted and reported. */
  eventBudgetMs?: number;
}

/**
 * Offline autonomy: holds the signed local policy, evaluates every event the
 * pipeline stored, and hands the resulting containment to the gateway, whether
 * or not the controller is reachable.
 */
export class LocalPolicyRunner {
  private readonly store: PolicyStore;
  private readonly planner: ActionPlanner;
  private evaluator?: LocalEvaluator;
  private timer?: NodeJS.Timeout;
  /** Rules already reported over budget under the installed policy: one note each. */
  private slowReported = new Set<string>();

  constructor(private readonly o: LocalPolicyOptions) {
    this.store = new PolicyStore(o.stateDir, o.agentId);
    this.planner = new ActionPlanner({ isIsolated: o.isIsolated });
  }

  /** Loads the persisted policy (if a key is pinned) and starts the correlation clock. */
  start(): void {
    this.loadPersisted();
    this.timer = setInterval(() => {
      if (this.evaluator) this.act(this.evaluator.tick(Date.now()), undefined);
    }, 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  version(): number | undefined {
    return this.store.version();
  }

  /** Called once a key gets pinned (first Welcome): a policy on disk may now be verifiable. */
  loadPersisted(): void {
    const key = this.o.key();
    if (!key || this.evaluator) return;
    try {
      const doc = this.store.load(key);
      if (doc) this.install(this.evaluatorFor(doc), "loaded");
    } catch (e) {
      this.o.log.error("stored local policy not loaded", { error: (e as Error).message });
      this.o.note("policy_refused", (e as Error).message, {});
    }
  }

  offer(update: PolicyUpdate): void {
    const key = this.o.key();
    if (!key) return this.refuse(update, "no controller key is pinned");
    let d;
    try {
      d = this.store.offer(update, key);
    } catch (e) {
      return this.refuse(update, `cannot persist: ${(e as Error).message}`);
    }
    if (d.kind === "unchanged") return;
    if (d.kind === "refused") return this.refuse(update, d.reason);
    this.install(this.evaluatorFor(d.doc), "applied");
  }

  onEvent(event: Event): void {
    const ev = this.evaluator;
    if (!ev) return;
    this.act(ev.evaluate(event), event);
  }

  private readonly ctx = (): { agentId: string; hostname: string } => ({ agentId: this.o.agentId, hostname: this.o.hostname() });

  /** Events evaluated and over budget under the installed policy. */
  get counts(): { events: number; overBudget: number } {
    return this.evaluator ? { ...this.evaluator.counts } : { events: 0, overBudget: 0 };
  }

  private evaluatorFor(doc: LocalPolicyDocument): LocalEvaluator {
    const ms = this.o.eventBudgetMs ?? 100;
    return new LocalEvaluator(doc, this.ctx, { ms, onSlow: (e) => this.slow(e, ms) });
  }

  /** Counted always (evaluator.counts); logged and noted to the controller once per rule. */
  private slow(e: SlowEvaluation, budgetMs: number): void {
    const key = e.ruleId ?? "";
    if (this.slowReported.has(key)) return;
    this.slowReported.add(key);
    const rule = e.ruleId ? `rule '${e.title ?? e.ruleId}' (${e.ruleId})` : "IOC matching";
    this.o.log.warn("local policy evaluation over budget", { ruleId: e.ruleId, ms: e.ms, budgetMs });
    this.o.note("policy_budget_exceeded", `local evaluation of one event took ${e.ms} ms of CPU (budget ${budgetMs} ms)${e.skipped ? ", abandoned" : ""}, longest in ${rule}`, {
      ruleId: e.ruleId ?? "",
      ms: String(e.ms),
      budgetMs: String(budgetMs),
      skipped: String(e.skipped),
    });
  }

  private install(ev: LocalEvaluator, how: "loaded" | "applied"): void {
    this.evaluator = ev;
    this.slowReported = new Set();
    const s = ev.summary;
    this.o.log.info(`local policy ${how}`, { version: s.version, rules: s.rules, iocs: s.iocs, errors: s.errors });
    if (how === "applied")
      this.o.note("policy_applied", s.errors.length ? `applied with ${s.errors.length} entries left out: ${s.errors.slice(0, 5).join("; ")}` : "applied", {
        version: String(s.version),
        rules: String(s.rules),
        iocs: String(s.iocs),
        errors: String(s.errors.length),
      });
  }

  /** Records why an update (or a chunked one that never assembled) was not applied; the held policy stays. */
  refuse(update: Pick<PolicyUpdate, "version"> | number, reason: string): void {
    const version = typeof update === "number" ? update : update.version;
    this.o.log.error("local policy refused", { version, reason });
    this.o.note("policy_refused", reason, { version: String(version) });
  }

  private act(hits: RuleHit[], event: Event | undefined): void {
    for (const hit of hits) {
      if (!hit.actions.length) continue;
      this.o.log.info("local policy rule fired", { ruleId: hit.ruleId, title: hit.title, seq: event?.seq });
      for (const a of hit.actions) {
        if (!event) {
          // A correlation closed on the clock: there is no single event to take a pid or address from.
          if (a.type !== "isolate") continue;
        }
        const plan = this.planner.plan(hit, a, event ?? { seq: 0, eventTimeMs: Date.now(), body: undefined });
        if (plan.kind === "skip") {
          this.o.log.debug("local action skipped", { ruleId: hit.ruleId, type: a.type, reason: plan.reason });
          continue;
        }
        if (plan.kind === "fail") {
          this.o.gateway.reportLocal(localResult(plan.id, a.type, CommandStatus.COMMAND_STATUS_FAILED, plan.reason, Date.now()), { ruleId: hit.ruleId });
          continue;
        }
        const ttl = typeof a.params.ttlSeconds === "number" ? a.params.ttlSeconds : undefined;
        const run = () =>
          void this.o.gateway
            .runLocal(plan.action, { ruleId: hit.ruleId })
            .then((r) => this.planner.finished(plan.dedupKey, a.type, r.status === CommandStatus.COMMAND_STATUS_SUCCEEDED || r.status === CommandStatus.COMMAND_STATUS_NOT_ENFORCED, ttl));
        // A kill walks /proc synchronously (the whole tree, stopped to a fixed point): run it once
        // the other actions have started their nft child, so both proceed at once instead of the
        // network isolation waiting behind the walk (measured: most of the tail of containment).
        if (a.type === "kill_process") setImmediate(run);
        else run();
      }
    }
  }
}
