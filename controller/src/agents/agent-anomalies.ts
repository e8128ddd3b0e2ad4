import type { AuditLog } from "../audit/audit-log";
import { RefusalThrottle } from "../trust/refusal-throttle";

/**
 * Records what an agent sent that it cannot have produced (a forged or
 * corrupted seq) in the audit trail. A hostile agent repeats it on every
 * reconnect, so repeats are folded: one record per agent and kind per minute.
 */
export function agentAnomalies(audit: Pick<AuditLog, "append">): (agentId: string, kind: string, details: Record<string, unknown>) => void {
  const throttle = new RefusalThrottle();
  return (agentId, kind, details) => {
    const folded = throttle.admit(`${agentId}|${kind}`);
    if (folded === undefined) return;
    void audit.append({ actor: `agent:${agentId}`, action: `agent.${kind}`, target: `agent:${agentId}`, details: { ...details, ...(folded ? { repeatsFolded: folded } : {}) } }).catch(() => undefined);
  };
}
