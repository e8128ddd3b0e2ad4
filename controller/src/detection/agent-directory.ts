import type { AgentRegistry } from "../agents/agent-registry";

export interface AgentInfo {
  hostname: string;
  tags: string[];
}

/** Ids per prefetch query (an IN list). */
const PREFETCH_CHUNK = 500;

/**
 * Hostname and tags per agent for detection, cached so the pipeline reads the agents table once
 * per agent rather than once per batch. Refreshed on reconnect (tags may change with a new
 * certificate) and after `ttlMs`.
 */
export class AgentDirectory {
  private readonly cache = new Map<string, { info: AgentInfo; at: number }>();

  constructor(
    private readonly registry: Pick<AgentRegistry, "get" | "labels" | "onConnectionChange">,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    registry.onConnectionChange((id) => this.cache.delete(id));
  }

  /**
   * Fills the cache for the agents of a chunk in one query. A detection worker that takes over a
   * partition (distributed mode) meets thousands of agents it has not seen; one read each, while
   * a fleet reconnects, held detection (and, through its gate, storage) behind the pool.
   */
  async prefetch(agentIds: Iterable<string>): Promise<void> {
    const now = this.now();
    const missing = [...new Set(agentIds)].filter((id) => {
      const hit = this.cache.get(id);
      return !hit || now - hit.at >= this.ttlMs;
    });
    for (let i = 0; i < missing.length; i += PREFETCH_CHUNK) {
      const ids = missing.slice(i, i + PREFETCH_CHUNK);
      const found = await this.registry.labels(ids).catch(() => undefined);
      // A failed read leaves them to info(), one by one, as before.
      if (!found) return;
      for (const id of ids) {
        const f = found.get(id);
        this.cache.set(id, { info: { hostname: f?.hostname ?? "", tags: f?.tags ?? [] }, at: now });
      }
    }
  }

  async info(agentId: string): Promise<AgentInfo> {
    const hit = this.cache.get(agentId);
    if (hit && this.now() - hit.at < this.ttlMs) return hit.info;
    const view = await this.registry.get(agentId).catch(() => null);
    const info = { hostname: view?.hostname ?? "", tags: view?.tags ?? [] };
    this.cache.set(agentId, { info, at: this.now() });
    return info;
  }
}
