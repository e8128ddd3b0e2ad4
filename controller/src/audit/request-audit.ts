import { AsyncLocalStorage } from "node:async_hooks";

/** What one API request has put in the audit trail so far. */
export interface RequestAuditContext {
  /** Records appended while serving the request (by services that write their own). */
  appended: number;
  /** What the handler says it changed (ids, names, content hashes), merged into the request's record. */
  notes: Record<string, unknown>;
}

/**
 * Set for the whole of an API request by the first middleware, so the audit
 * interceptor knows whether a service already recorded the change (then it adds
 * nothing) and what the handler noted about it.
 */
export const requestAudit = new AsyncLocalStorage<RequestAuditContext>();

/** Adds what changed to the current request's audit record (no-op outside a request). */
export function noteAudit(details: Record<string, unknown>): void {
  const ctx = requestAudit.getStore();
  if (ctx) Object.assign(ctx.notes, details);
}
