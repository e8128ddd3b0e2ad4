import type { PlaybookAction } from "./playbook-schema";

/** What the playbook engine needs to know about an alert (a structural slice of the alert entity). */
export interface PlaybookAlert {
  id: string;
  ruleId: string;
  ruleTitle: string;
  ruleTags: string[];
  score: number;
  agentId: string;
  caseId: string | null;
  entityKind: string;
  entityValue: string;
  /** Sigma fields of the matched events, newest last. */
  eventFields: Record<string, unknown>[];
}

export class CannotDerive extends Error {}

function lastWith(alert: PlaybookAlert, ...fields: string[]): Record<string, unknown> | undefined {
  for (let i = alert.eventFields.length - 1; i >= 0; i--) {
    const f = alert.eventFields[i];
    if (fields.every((k) => f[k] !== undefined && f[k] !== "" && f[k] !== 0)) return f;
  }
  return undefined;
}

/**
 * Turns a playbook action into concrete command params from the alert's own
 * evidence: the process it saw (pid + start time, so a reused pid is never
 * hit), the address it saw, the user it saw.
 */
export function deriveParams(action: PlaybookAction, alert: PlaybookAlert, reason: string): Record<string, unknown> {
  const p = action.params;
  switch (action.type) {
    case "isolate":
      return { ...(p.allowCidrs ? { allowCidrs: p.allowCidrs } : {}), reason };
    case "kill_process": {
      const ev = lastWith(alert, "ProcessId", "ProcessStartTimeMs");
      if (!ev) throw new CannotDerive("the alert's events carry no process (ProcessId + ProcessStartTimeMs) to kill");
      return { pid: ev.ProcessId, startTimeMs: ev.ProcessStartTimeMs, tree: p.tree !== false, reason };
    }
    case "block_ip": {
      let ip = typeof p.ip === "string" ? p.ip : undefined;
      if (!ip && alert.entityKind === "ip") ip = alert.entityValue;
      if (!ip) {
        const ev = lastWith(alert, "SourceIp");
        const net = lastWith(alert, "DestinationIp", "Initiated");
        ip = (ev?.Service !== undefined ? (ev.SourceIp as string) : undefined) ?? (net?.Initiated === "true" ? (net.DestinationIp as string) : undefined) ?? (ev?.SourceIp as string | undefined);
      }
      if (!ip) throw new CannotDerive("the alert names no IP address to block");
      return { ip, ...(p.ttlSeconds !== undefined ? { ttlSeconds: p.ttlSeconds } : {}), reason };
    }
    case "collect_evidence": {
      const ev = lastWith(alert, "ProcessId");
      const base: Record<string, unknown> = { processes: true, connections: true };
      if (ev && typeof ev.ProcessId === "number" && ev.ProcessId > 0) base.openFilesPid = ev.ProcessId;
      return { ...base, ...p, reason };
    }
    case "terminate_session": {
      const ev = lastWith(alert, "User", "Tty") ?? lastWith(alert, "User");
      const user = (p.user as string | undefined) ?? (alert.entityKind === "user" ? alert.entityValue : (ev?.User as string | undefined));
      if (!user) throw new CannotDerive("the alert names no user whose session to terminate");
      return { user, ...(ev?.Tty ? { tty: ev.Tty } : {}), reason };
    }
    case "notify":
      return { ...p };
  }
}
