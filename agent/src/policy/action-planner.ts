import { randomUUID } from "node:crypto";
import { type Event, ProcessAction } from "@vigil/proto";
import type { LocalAction } from "../commands";
import type { RuleHit } from "./local-evaluator";
import type { PolicyAction } from "./policy-document";

export type PlannedAction =
  | { kind: "run"; action: LocalAction & { id: string }; dedupKey: string }
  /** Already done or under way (same process, isolation in force, same address blocked). */
  | { kind: "skip"; reason: string }
  /** The policy asked for something the event cannot support; reported, not run. */
  | { kind: "fail"; id: string; reason: string };

export interface PlannerOptions {
  isIsolated: () => boolean;
  now?: () => number;
}

/** How long a completed action suppresses the same action again. */
const DONE_MS: Record<PolicyAction["type"], number> = { kill_process: 24 * 3600_000, isolate: 0, block_ip: 3600_000 };
/** After a failure, the next hit may retry only after this, so a failing action cannot spin. */
const RETRY_AFTER_FAILURE_MS = 30_000;
const MAX_KEYS = 10_000;

/**
 * Turns a rule hit into concrete handler params taken from the event that fired it,
 * and makes sure the same containment is not repeated: a process is killed once,
 * a host isolated once, an address blocked once per block.
 */
export class ActionPlanner {
  private readonly busy = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly o: PlannerOptions) {
    this.now = o.now ?? Date.now;
  }

  plan(hit: RuleHit, a: PolicyAction, event: Event): PlannedAction {
    const id = `local-${randomUUID()}`;
    const body = event.body;
    let params: Record<string, unknown>;
    let key: string;
    switch (a.type) {
      case "kill_process": {
        if (body?.$case !== "process" || body.process.action !== ProcessAction.PROCESS_ACTION_START || !body.process.startTimeMs)
          return {
            kind: "fail",
            id,
            reason: `kill_process: rule ${hit.ruleId} fired on a ${body?.$case ?? "empty"} event that names no live process with its start time; not killed (a pid alone could be recycled)`,
          };
        const p = body.process;
        params = { pid: p.pid, startTimeMs: p.startTimeMs, tree: a.params.tree !== false };
        key = `kill:${p.pid}:${p.startTimeMs}`;
        break;
      }
      case "block_ip": {
        const ip = body?.$case === "network" ? body.network.remoteAddress : body?.$case === "auth" ? body.auth.sourceIp : "";
        if (!ip) return { kind: "fail", id, reason: `block_ip: rule ${hit.ruleId} fired on a ${body?.$case ?? "empty"} event without a remote address` };
        params = { ip };
        if (typeof a.params.ttlSeconds === "number") params.ttlSeconds = a.params.ttlSeconds;
        key = `block:${ip}`;
        break;
      }
      case "isolate":
        if (this.o.isIsolated()) return { kind: "skip", reason: "host already isolated" };
        params = { reason: `local policy rule ${hit.ruleId}` };
        key = "isolate";
        break;
    }
    const t = this.now();
    const until = this.busy.get(key);
    if (until !== undefined && until > t) return { kind: "skip", reason: `${key} already done or under way` };
    this.mark(key, Number.MAX_SAFE_INTEGER);
    return { kind: "run", action: { id, type: a.type, params }, dedupKey: key };
  }

  /** Records the outcome of a run the planner handed out. */
  finished(key: string, type: PolicyAction["type"], ok: boolean, ttlSeconds?: number): void {
    const t = this.now();
    const hold = ok ? (type === "block_ip" && ttlSeconds ? ttlSeconds * 1000 : DONE_MS[type]) : RETRY_AFTER_FAILURE_MS;
    if (hold <= 0) this.busy.delete(key);
    else this.mark(key, t + hold);
  }

  private mark(key: string, until: number): void {
    this.busy.delete(key);
    this.busy.set(key, until);
    if (this.busy.size > MAX_KEYS) {
      const t = this.now();
      for (const [k, u] of this.busy) if (u <= t) this.busy.delete(k);
      for (const k of this.busy.keys()) {
        if (this.busy.size <= MAX_KEYS) break;
        this.busy.delete(k);
      }
    }
  }
}
