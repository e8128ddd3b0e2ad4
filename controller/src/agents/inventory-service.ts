import { INVENTORY_LIMITS, type Inventory } from "@vigil/proto";
import type { InventoryRepository, StoredInventory } from "../database/repositories/inventory-repository";
import type { AgentRegistry } from "./agent-registry";
import type { RemoteInventory } from "./agent-relay";
import type { RemoteAgents } from "./cluster-presence";

const text = (s: string): string => s.slice(0, INVENTORY_LIMITS.text);

/**
 * Holds any agent's inventory to the shared bounds before it is stored: the agent's word is
 * hostile until checked, even over mTLS. Strings are clipped and lists cut; what was cut is said.
 */
export function boundInventory(inv: Inventory): Inventory {
  const L = INVENTORY_LIMITS;
  const cut: string[] = [];
  const take = <T>(what: string, list: T[], max: number): T[] => {
    if (list.length > max) cut.push(`${what}: ${list.length} cut to ${max}`);
    return list.slice(0, max);
  };
  return {
    collectedAtMs: Number.isFinite(inv.collectedAtMs) ? inv.collectedAtMs : 0,
    reason: text(inv.reason).slice(0, 32),
    hostname: text(inv.hostname),
    os: text(inv.os),
    kernel: text(inv.kernel),
    arch: text(inv.arch),
    cpuModel: text(inv.cpuModel),
    cpuCores: inv.cpuCores,
    memoryBytes: inv.memoryBytes,
    disks: take("disks", inv.disks, L.disks).map((d) => ({ ...d, mount: text(d.mount), fs: text(d.fs) })),
    interfaces: take("interfaces", inv.interfaces, L.interfaces).map((i) => ({ name: text(i.name), mac: text(i.mac), addresses: i.addresses.slice(0, L.addressesPerInterface).map(text) })),
    users: take("users", inv.users, L.users).map((u) => ({ ...u, name: text(u.name), shell: text(u.shell), home: text(u.home) })),
    listeners: take("listeners", inv.listeners, L.listeners).map((x) => ({ ...x, protocol: text(x.protocol), address: text(x.address), process: text(x.process) })),
    packages: take("packages", inv.packages, L.packages).map((p) => ({ name: text(p.name), version: text(p.version) })),
    packagesTotal: inv.packagesTotal,
    errors: [...inv.errors.slice(0, L.errors).map(text), ...cut],
  };
}

/** Receives agents' inventories and asks a connected agent for a fresh one. */
export class InventoryService {
  constructor(
    private readonly repo: InventoryRepository,
    private readonly registry: Pick<AgentRegistry, "session">,
    private readonly now: () => number = Date.now,
    /** Distributed mode: the agents other replicas hold, and how to ask them. */
    private readonly remote?: { agents: RemoteAgents; relay: RemoteInventory },
  ) {}

  async receive(agentId: string, inv: Inventory): Promise<void> {
    const b = boundInventory(inv);
    await this.repo.upsert({ agentId, collectedAt: b.collectedAtMs, receivedAt: this.now(), reason: b.reason || "unknown", body: { ...b } as unknown as Record<string, unknown> });
  }

  get(agentId: string): Promise<StoredInventory | undefined> {
    return this.repo.get(agentId);
  }

  /** False when the agent is not connected (to this controller, or in distributed mode to any replica). */
  request(agentId: string): boolean {
    if (this.requestHere(agentId)) return true;
    if (!this.remote?.agents.find(agentId)) return false;
    this.remote.relay.requestInventory(agentId);
    return true;
  }

  /** Only if this process holds the agent's stream (a relayed request is never relayed on). */
  requestHere(agentId: string): boolean {
    const s = this.registry.session(agentId);
    if (!s) return false;
    s.send({ msg: { $case: "inventoryRequest", inventoryRequest: { reason: "requested" } } });
    return true;
  }
}
