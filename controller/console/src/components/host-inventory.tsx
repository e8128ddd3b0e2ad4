import { useState } from "preact/hooks";
import type { HostInventory } from "../api/types";
import { useSession } from "../lib/context";
import { bytes, when } from "../lib/format";

/** The host's inventory, fetched when the analyst opens it (it can list thousands of packages). */
export function HostInventoryDetails({ agentId }: { agentId: string }) {
  const { api } = useSession();
  const [inv, setInv] = useState<HostInventory | null | undefined>(undefined);
  const [error, setError] = useState("");
  const load = (open: boolean) => {
    if (!open || inv !== undefined) return;
    api.inventory(agentId).then(setInv, (e: Error) => {
      setInv(null);
      setError(e.message);
    });
  };
  return (
    <details class="inventory" onToggle={(e) => load((e.currentTarget as HTMLDetailsElement).open)}>
      <summary>Inventory</summary>
      {inv === undefined && <p class="muted small">Loading…</p>}
      {inv === null && <p class="muted small">{error || "No inventory yet"}</p>}
      {inv && (
        <dl class="inventory-facts small">
          <dt>Collected</dt>
          <dd>
            {when(inv.collectedAt)} ({inv.reason})
          </dd>
          <dt>System</dt>
          <dd>
            {inv.inventory.os} · kernel {inv.inventory.kernel} · {inv.inventory.arch}
          </dd>
          <dt>Hardware</dt>
          <dd>
            {inv.inventory.cpuModel} × {inv.inventory.cpuCores} · {bytes(inv.inventory.memoryBytes)} memory
          </dd>
          <dt>Disks</dt>
          <dd>{inv.inventory.disks.map((d) => `${d.mount} ${bytes(d.usedBytes)}/${bytes(d.sizeBytes)}`).join(" · ") || "—"}</dd>
          <dt>Listening</dt>
          <dd>{inv.inventory.listeners.map((l) => `${l.protocol} ${l.address}:${l.port}${l.process ? ` (${l.process})` : ""}`).join(", ") || "—"}</dd>
          <dt>Login accounts</dt>
          <dd>
            {inv.inventory.users
              .filter((u) => !/(nologin|false)$/.test(u.shell))
              .map((u) => `${u.name} (${u.uid})`)
              .join(", ") || "—"}
          </dd>
          <dt>Packages</dt>
          <dd>{inv.inventory.packagesTotal}</dd>
          {inv.inventory.errors.length > 0 && (
            <>
              <dt>Not collected</dt>
              <dd>{inv.inventory.errors.join("; ")}</dd>
            </>
          )}
        </dl>
      )}
    </details>
  );
}
