import { status as GrpcStatus } from "@grpc/grpc-js";

/**
 * What a failed call or stream means for whoever retries it:
 * - retryable: the network or the controller is momentarily unable (restart, overload, deadline);
 *   try again soon, with backoff;
 * - fatal: trying again will get the same answer (revoked or unknown certificate, refused identity,
 *   a controller whose command key is not the pinned one); stop retrying hot, say why, and back off
 *   long or exit.
 */
export type TransportOutcome = { kind: "ok" } | { kind: "retryable"; reason: string } | { kind: "fatal"; reason: string };

/** Thrown by the agent's own checks (a pinned-key mismatch) so the link classifies it as fatal. */
export class FatalTransportError extends Error {
  readonly fatal = true;
}

const RETRYABLE = new Set<number>([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.ABORTED,
  GrpcStatus.CANCELLED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
]);

const FATAL = new Set<number>([GrpcStatus.UNAUTHENTICATED, GrpcStatus.PERMISSION_DENIED, GrpcStatus.UNIMPLEMENTED]);

/**
 * Text in a status's details that makes any code fatal: the controller closes a revoked agent's
 * open stream with ABORTED "agent revoked", and a TLS handshake refused for the client certificate
 * surfaces as UNAVAILABLE with the alert in the details. An expired certificate is NOT here: the
 * controller closes such a stream so the agent comes back on the certificate it has renewed in the
 * meantime, and the renewer, not a long fatal backoff, is what fixes it.
 */
const FATAL_DETAILS = /\b(revoked|certificate unknown|bad certificate|unknown ca|certificate verify failed|self[- ]signed certificate)\b/i;

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "number" && Number.isInteger(code) ? code : undefined;
}

function detailsOf(err: unknown): string {
  const e = err as { details?: unknown; message?: unknown } | null;
  if (typeof e?.details === "string" && e.details) return e.details;
  if (typeof e?.message === "string") return e.message;
  return String(err);
}

/** Classifies a gRPC error (or any error the link raised itself) by status code and details. */
export function classifyTransportError(err: unknown): TransportOutcome {
  if (err === undefined || err === null) return { kind: "ok" };
  const details = detailsOf(err).slice(0, 300);
  if (err instanceof FatalTransportError) return { kind: "fatal", reason: details };
  const code = codeOf(err);
  if (code === GrpcStatus.OK) return { kind: "ok" };
  const name = code === undefined ? "" : `${GrpcStatus[code] ?? `code ${code}`}: `;
  if (FATAL_DETAILS.test(details)) return { kind: "fatal", reason: `${name}${details}` };
  if (code !== undefined && FATAL.has(code)) return { kind: "fatal", reason: `${name}${details}` };
  if (code !== undefined && RETRYABLE.has(code)) return { kind: "retryable", reason: `${name}${details}` };
  // Codes that describe a request the controller refused (INVALID_ARGUMENT, FAILED_PRECONDITION,
  // NOT_FOUND, ...) and errors without a code (a stream that ended, no Welcome in time) are
  // retried: the next connection starts from Hello and may well succeed.
  return { kind: "retryable", reason: `${name}${details}` };
}
