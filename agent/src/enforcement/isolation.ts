import { join } from "node:path";
import { type IsolationPolicy, ISOLATE_FAMILY, ISOLATE_TABLE, buildIsolationRuleset } from "./isolation-ruleset";
import type { Nft } from "./nft";
import type { UserNotifier } from "./notify";
import { SerialQueue, withDeadline } from "./serial";
import { readJsonState, writeJsonAtomic } from "../platform/linux/atomic-file";

export interface IsolationState {
  isolated: boolean;
  sinceMs: number;
  commandId: string;
  local: boolean;
  /** CIDRs the isolate command added to the configured admin allowlist. */
  extraAllowCidrs: string[];
}

export interface IsolationDeps {
  nft: Nft;
  stateDir: string;
  /** Read at every apply so a changed controller address is picked up on re-apply. */
  policy: () => IsolationPolicy;
  /** Must prove the controller is reachable through the new rules (e.g. a TCP/gRPC round trip). */
  checkControllerReachable: () => Promise<boolean>;
  notifyUsers?: UserNotifier;
  reachabilityTimeoutMs?: number;
  now?: () => number;
}

export type IsolationResult = { ok: true; ruleset: string; alreadyIsolated?: boolean } | { ok: false; reason: string; rolledBack: boolean };

const STATE_FILE = "isolation.json";

/**
 * Owns the `inet vigil_isolate` table. The table is left in the kernel when the agent
 * exits or crashes; only release() removes it, and the state file lets a restarted
 * agent (or a rebooted host) put it back.
 */
export class IsolationManager {
  private readonly queue = new SerialQueue();
  private readonly statePath: string;
  private readonly now: () => number;

  constructor(private readonly deps: IsolationDeps) {
    this.statePath = join(deps.stateDir, STATE_FILE);
    this.now = deps.now ?? Date.now;
  }

  /** Persisted intent (what the agent will enforce after a restart). */
  state(): IsolationState | undefined {
    const raw = readJsonState(this.statePath);
    if (raw === undefined) return undefined;
    if (typeof raw !== "object" || raw === null || typeof (raw as IsolationState).isolated !== "boolean") throw new Error(`corrupt state file ${this.statePath}: unexpected shape`);
    const s = raw as IsolationState;
    return { ...s, extraAllowCidrs: Array.isArray(s.extraAllowCidrs) ? s.extraAllowCidrs : [] };
  }

  isIsolated(): boolean {
    return this.state()?.isolated === true;
  }

  /** Kernel truth, for status reports and tests. */
  tableInKernel(): Promise<boolean> {
    return this.deps.nft.tableExists(ISOLATE_FAMILY, ISOLATE_TABLE);
  }

  /** The ruleset isolate() would apply, without applying it (monitor mode). */
  plan(extraAllowCidrs: string[] = []): string {
    const p = this.deps.policy();
    return buildIsolationRuleset({ ...p, allowCidrs: [...p.allowCidrs, ...extraAllowCidrs] });
  }

  isolate(opts: { commandId: string; local: boolean; extraAllowCidrs?: string[] }): Promise<IsolationResult> {
    return this.queue.run(async () => {
      const extra = opts.extraAllowCidrs ?? [];
      let ruleset: string;
      try {
        ruleset = this.plan(extra);
      } catch (e) {
        return { ok: false, reason: `cannot build isolation rules: ${(e as Error).message}`, rolledBack: false };
      }
      // The previous table is only needed to roll back to it; when our state says we were not
      // isolated there is none of ours to keep, and skipping one nft run is a third of containment time.
      const previous = this.state()?.isolated ? await this.deps.nft.listTable(ISOLATE_FAMILY, ISOLATE_TABLE) : null;
      try {
        await this.deps.nft.apply(ruleset);
      } catch (e) {
        // nft -f is one transaction: a failed apply changed nothing.
        return { ok: false, reason: `nft apply failed: ${(e as Error).message}`, rolledBack: false };
      }
      const reachable = await withDeadline(this.deps.checkControllerReachable, this.deps.reachabilityTimeoutMs ?? 5000);
      if (!reachable) {
        const rollback = await this.restore(previous);
        return {
          ok: false,
          reason: `controller unreachable after isolation; ${rollback === "" ? "rolled back" : `ROLLBACK FAILED: ${rollback}`}`,
          rolledBack: rollback === "",
        };
      }
      const wasIsolated = previous !== null;
      writeJsonAtomic(this.statePath, {
        isolated: true,
        sinceMs: wasIsolated ? (this.state()?.sinceMs ?? this.now()) : this.now(),
        commandId: opts.commandId,
        local: opts.local,
        extraAllowCidrs: extra,
      } satisfies IsolationState);
      if (!wasIsolated) void this.notify("This host has been ISOLATED from the network by Vigil EDR. Only the security team can reach it.");
      return { ok: true, ruleset, alreadyIsolated: wasIsolated };
    });
  }

  /** Removes exactly the isolation table; block lists and the system's own tables stay. */
  release(opts: { commandId: string }): Promise<{ ok: true; wasIsolated: boolean } | { ok: false; reason: string }> {
    return this.queue.run(async () => {
      const wasIsolated = (await this.tableInKernel()) || this.isIsolated();
      try {
        await this.deps.nft.deleteTable(ISOLATE_FAMILY, ISOLATE_TABLE);
      } catch (e) {
        return { ok: false, reason: `nft delete failed: ${(e as Error).message}` };
      }
      // State is cleared only after the kernel table is gone: a crash in between re-isolates
      // on restart, which errs on the contained side.
      writeJsonAtomic(this.statePath, { isolated: false, sinceMs: this.now(), commandId: opts.commandId, local: false, extraAllowCidrs: [] } satisfies IsolationState);
      if (wasIsolated) void this.notify("Network isolation of this host has been RELEASED by Vigil EDR.");
      return { ok: true, wasIsolated };
    });
  }

  /**
   * Called once at agent start. Re-applies isolation if the persisted state says so,
   * without the reachability rollback: the controller being down at boot must not
   * make the agent release a host on its own.
   */
  reapplyOnStart(): Promise<{ reapplied: boolean; error?: string }> {
    return this.queue.run(async () => {
      const s = this.state();
      if (!s?.isolated) return { reapplied: false };
      try {
        await this.deps.nft.apply(this.plan(s.extraAllowCidrs));
        return { reapplied: true };
      } catch (e) {
        return { reapplied: false, error: (e as Error).message };
      }
    });
  }

  /** Puts back the table as it was before a failed isolate; "" on success, else why not. */
  private async restore(previous: string | null): Promise<string> {
    try {
      if (previous === null) await this.deps.nft.deleteTable(ISOLATE_FAMILY, ISOLATE_TABLE);
      else await this.deps.nft.apply(`add table ${ISOLATE_FAMILY} ${ISOLATE_TABLE}\ndelete table ${ISOLATE_FAMILY} ${ISOLATE_TABLE}\n${previous}`);
      return "";
    } catch (e) {
      return (e as Error).message;
    }
  }

  private async notify(message: string): Promise<void> {
    await this.deps.notifyUsers?.(message).catch(() => undefined);
  }
}
