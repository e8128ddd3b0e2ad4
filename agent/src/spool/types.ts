/**
 * How precious a record is when the spool is full. Stored as one byte per record.
 * Telemetry (process/file/network) is Low; agent notices are Normal; auth and
 * enforcement records are High and are only ever dropped after every Low and
 * Normal record has gone.
 */
export const Priority = { Low: 0, Normal: 1, High: 2 } as const;
export type Priority = (typeof Priority)[keyof typeof Priority];
export const PRIORITIES: readonly Priority[] = [Priority.Low, Priority.Normal, Priority.High];

/**
 * The priority the issue asks for, by event kind: auth and enforcement records
 * are kept longest, the agent's own notices next, bulk telemetry goes first.
 */
export function defaultPriority(kind: string): Priority {
  if (kind === "auth" || kind === "enforcement" || kind === "command_result") return Priority.High;
  if (kind === "agent") return Priority.Normal;
  return Priority.Low;
}

/**
 * What happens when an append does not fit under `maxBytes`:
 * - `drop_oldest_low_priority` (default): drop the oldest unleased records of the
 *   lowest priority first (stored ones before incoming ones of the same priority),
 *   then the next priority. An incoming record never displaces a stored record of
 *   higher priority; it is dropped itself instead.
 * - `drop_newest`: keep everything stored, drop the incoming records that do not fit.
 * - `block`: drop nothing; `append` throws `SpoolFullError` and the caller waits
 *   for `waitForSpace()` before retrying.
 */
export type FullPolicy = "drop_oldest_low_priority" | "drop_newest" | "block";

/**
 * - `always`: fdatasync after every append batch; nothing acknowledged to the caller is lost on power loss.
 * - `interval`: fdatasync at most every `fsyncIntervalMs`; up to that much can be lost on power loss.
 * - `never`: leave it to the kernel (survives a process crash, not a power loss).
 */
export type FsyncPolicy = "always" | "interval" | "never";

export interface SpoolOptions {
  /** Directory the segment files live in (created if missing), e.g. `<stateDir>/spool`. */
  dir: string;
  /** Upper bound on the bytes of all segment files. Default 1 GiB. */
  maxBytes?: number;
  /** A segment is rolled once it would grow past this. Default 8 MiB. */
  segmentBytes?: number;
  fullPolicy?: FullPolicy;
  fsync?: FsyncPolicy;
  /** For `fsync: "interval"`. Default 200 ms. */
  fsyncIntervalMs?: number;
  /**
   * Extra bytes freed beyond what an append needs when the spool is full, so a
   * full spool rewrites a segment once per chunk rather than once per append.
   * Default min(segmentBytes, maxBytes / 32): with the defaults a full spool sheds
   * about one segment's worth of its oldest telemetry at a time. 0 drops the bare minimum.
   */
  dropSlackBytes?: number;
}

export interface ResolvedSpoolOptions {
  dir: string;
  maxBytes: number;
  segmentBytes: number;
  fullPolicy: FullPolicy;
  fsync: FsyncPolicy;
  fsyncIntervalMs: number;
  dropSlackBytes: number;
}

export interface AppendItem {
  /** Counted under this name when dropped (e.g. "process", "auth"). At most 255 UTF-8 bytes. */
  kind: string;
  priority: Priority;
  /**
   * Produces the payload once the spool has chosen the seq (the Event embeds its
   * own seq). Must be pure: when a full spool refuses part of a batch, the rest is
   * encoded again with contiguous seqs.
   */
  encode: (seq: number) => Uint8Array;
}

/** Returned by `append` for an item that was dropped instead of stored (never a real seq). */
export const NOT_STORED = 0;

export interface LeasedRecord {
  seq: number;
  kind: string;
  priority: Priority;
  payload: Uint8Array;
}

export interface SpoolStats {
  /** Records on disk not yet covered by an ack. */
  records: number;
  /** Bytes of all segment files. */
  bytes: number;
  segments: number;
  leasedUpTo: number;
  ackedSeq: number;
  lastSeq: number;
  /** Records dropped by the full policy since the spool was created, by kind. */
  dropped: Record<string, number>;
  /** Bytes cut off torn or corrupt segments since the spool was created. */
  discardedBytes: number;
  /** Acks refused for being beyond the last seq assigned here (forged or corrupted), since the spool was created. */
  acksBeyondLast: number;
}

export class SpoolFullError extends Error {
  constructor(
    readonly neededBytes: number,
    readonly maxBytes: number,
  ) {
    super(`spool full: ${neededBytes} more bytes would exceed the ${maxBytes}-byte bound (policy "block")`);
    this.name = "SpoolFullError";
  }
}

export class SpoolConfigError extends Error {
  constructor(message: string) {
    super(`invalid spool options: ${message}`);
    this.name = "SpoolConfigError";
  }
}

export class SpoolLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`spool ${dir} is in use by process ${pid}`);
    this.name = "SpoolLockedError";
  }
}
