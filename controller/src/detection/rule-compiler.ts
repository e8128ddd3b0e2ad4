import type { Worker } from "node:worker_threads";
import type { RuleError, RuleInfo } from "@vigil/detection";
import type { RuleSource } from "./engine-protocol";
import { startWorker } from "./worker-launch";

export interface CompileRequest {
  id: number;
  uploaded: RuleSource[];
}

export type CompileReply = { id: number; rules: RuleInfo[]; errors: RuleError[]; compiledDocs: number; reusedDocs: number } | { id: number; failed: string };

export interface CompiledRules {
  rules: RuleInfo[];
  errors: RuleError[];
}

/**
 * Compiles the built-in pack plus uploaded files in a worker thread (rule-compile-worker.ts), one
 * request at a time. The worker is started on first use and kept (its cache makes the next change
 * cheap); if it dies, the next request starts another.
 */
export class RuleCompiler {
  private worker?: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (r: CompiledRules) => void; reject: (e: Error) => void }>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Documents compiled / reused by the worker's cache since it started. */
  stats = { compiledDocs: 0, reusedDocs: 0 };

  compile(uploaded: RuleSource[]): Promise<CompiledRules> {
    const p = this.chain.then(() => this.send(uploaded));
    this.chain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private send(uploaded: RuleSource[]): Promise<CompiledRules> {
    if (this.closed) return Promise.reject(new Error("rule compiler is stopped"));
    const id = this.nextId++;
    const w = this.ensure();
    w.ref(); // a pending compile keeps the process up; idle, the worker does not
    return new Promise<CompiledRules>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      w.postMessage({ id, uploaded } satisfies CompileRequest);
    }).finally(() => this.worker?.unref());
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker("rule-compile-worker", {});
    w.on("message", (m: CompileReply) => {
      const p = this.waiting.get(m.id);
      if (!p) return;
      this.waiting.delete(m.id);
      if ("failed" in m) p.reject(new Error(`rule compiler: ${m.failed}`));
      else {
        this.stats = { compiledDocs: m.compiledDocs, reusedDocs: m.reusedDocs };
        p.resolve({ rules: m.rules, errors: m.errors });
      }
    });
    w.on("exit", () => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.waiting.values()) p.reject(new Error("rule compiler exited"));
      this.waiting.clear();
    });
    w.unref();
    this.worker = w;
    return w;
  }
}
