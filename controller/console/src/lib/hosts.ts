// Hosts by name. Agent ids are UUIDs nobody reads; hostnames are what an analyst knows, but two
// cloned VMs both called "vm" must still be told apart: those get a short id prefix ("vm · 3f2a").

export interface HostLike {
  id: string;
  hostname?: string | null;
}

const MIN_PREFIX = 4;

/** Agent id → the label to show. Unique hostnames stand alone; shared ones get the shortest distinguishing id prefix (at least 4). */
export function hostLabels(hosts: readonly HostLike[]): Map<string, string> {
  const byName = new Map<string, string[]>();
  for (const h of hosts) {
    const name = (h.hostname ?? "").trim();
    if (!name) continue;
    const ids = byName.get(name) ?? [];
    if (!ids.includes(h.id)) ids.push(h.id);
    byName.set(name, ids);
  }
  const out = new Map<string, string>();
  for (const h of hosts) if (!(h.hostname ?? "").trim()) out.set(h.id, h.id);
  for (const [name, ids] of byName) {
    if (ids.length === 1) {
      out.set(ids[0], name);
      continue;
    }
    let n = MIN_PREFIX;
    while (n < 64 && new Set(ids.map((id) => id.slice(0, n))).size < ids.length) n++;
    for (const id of ids) out.set(id, `${name} · ${id.slice(0, n)}`);
  }
  return out;
}

/** The label for one agent: from the fleet's labels when known, else the name the data carried, else the id. */
export function hostLabel(labels: ReadonlyMap<string, string>, id: string, hostname?: string | null): string {
  return labels.get(id) ?? (hostname || id);
}
