import type { AgentRegistry } from "../agents/agent-registry";

export interface AgentInfo {
  hostname: string;
  tags: string[];
}

/**
 * Hostname and tags per agent for detection, cached so the pipeline reads the agents table once
 * per agent rather than once per batch. Refreshed on reconnect (tags may change with a new
 * certificate) and after `ttlMs`.
 */
export class AgentDirectory {
  private readonly cache = new Map<string, { info: AgentInfo; at: number }>();

  constructor(
    private readonly registry: Pick<AgentRegistry, "get" | "onConnectionChange">,
    private readonly ttlMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    registry.onConnectionChange((id) => this.cache.delete(id));
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
