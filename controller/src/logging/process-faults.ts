import type { Logger } from "pino";
import { redactVigilSecrets } from "@vigil/proto";

/**
 * Process-level safety net for the controller: an unhandled promise rejection or an uncaught
 * exception is logged (Vigil secrets redacted, bounded) and counted (vigil_process_faults_total),
 * instead of vanishing or ending the process with only a stack on stderr. Installed once per
 * process; the latest controller's logger is used (tests start several in one process).
 */
export type ProcessFaultKind = "unhandled_rejection" | "uncaught_exception" | "background_failure";

const counts: Record<ProcessFaultKind, number> = { unhandled_rejection: 0, uncaught_exception: 0, background_failure: 0 };
const MESSAGES: Record<ProcessFaultKind, string> = {
  unhandled_rejection: "unhandled promise rejection",
  uncaught_exception: "uncaught exception",
  // Work started off a request's path (fire-and-forget bookkeeping) that failed: caught where it runs, reported here.
  background_failure: "background task failed",
};
let logger: Logger | undefined;
let installed = false;

export function processFaultCounts(): Readonly<Record<ProcessFaultKind, number>> {
  return { ...counts };
}

function describe(err: unknown): string {
  const text = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err);
  return redactVigilSecrets(text).slice(0, 4096);
}

/** Records one fault: from the process handlers, or from a fire-and-forget task's own catch. */
export function recordProcessFault(kind: ProcessFaultKind, err: unknown): void {
  counts[kind]++;
  logger?.error({ kind, error: describe(err), count: counts[kind] }, MESSAGES[kind]);
}

export function installProcessFaultHandlers(log: Logger): void {
  logger = log;
  if (installed) return;
  installed = true;
  process.on("unhandledRejection", (reason) => recordProcessFault("unhandled_rejection", reason));
  // The controller keeps serving: agents' streams, the API and ingest are independent of most
  // faults, and every request path already has its own error handling; this catches the rest.
  process.on("uncaughtException", (err) => recordProcessFault("uncaught_exception", err));
}
