import type { AgentRepository } from "../database/repositories/agent-repository";

const CHUNK = 500;
const MAX_CACHED = 10_000;

/**
 * Agent id → hostname for API views that name hosts (case entities, entity risk), read in one
 * query per view rather than one per host, and cached briefly: a renamed host shows its new name
 * within `ttlMs`. An unknown id (a deleted agent) maps to "" and the view falls back to the id.
 */
export class HostNames {
  private readonly cache = new Map<string, { name: string; at: number }>();

  constructor(
    private readonly agents: Pick<AgentRepository, "hostnames">,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async of(ids: Iterable<string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const missing: string[] = [];
    const now = this.now();
    for (const id of new Set(ids)) {
      const hit = this.cache.get(id);
      if (hit && now - hit.at < this.ttlMs) out.set(id, hit.name);
      else missing.push(id);
    }
    for (let i = 0; i < missing.length; i += CHUNK) {
      const part = missing.slice(i, i + CHUNK);
      const found = await this.agents.hostnames(part);
      for (const id of part) {
        const name = found.get(id) ?? "";
        out.set(id, name);
        if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(id, { name, at: now });
      }
    }
    return out;
  }
}

/** Entity keys ("host:<agent id>", "ip:…") as the API shows them: hosts carry their hostname. */
export function entityViews(keys: readonly string[], hostnames: ReadonlyMap<string, string>): Array<{ kind: string; value: string; hostname?: string }> {
  return keys.map((k) => {
    const kind = k.slice(0, k.indexOf(":"));
    const value = k.slice(k.indexOf(":") + 1);
    return kind === "host" ? { kind, value, hostname: hostnames.get(value) ?? "" } : { kind, value };
  });
}

/** The agent ids among entity keys. */
export function hostIds(keys: readonly string[]): string[] {
  return keys.filter((k) => k.startsWith("host:")).map((k) => k.slice(5));
}
