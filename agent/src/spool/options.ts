import { SpoolConfigError, type ResolvedSpoolOptions, type SpoolOptions } from "./types";

const MiB = 1024 * 1024;
const FULL_POLICIES = ["drop_oldest_low_priority", "drop_newest", "block"] as const;
const FSYNC_POLICIES = ["always", "interval", "never"] as const;
/** Every segment keeps a file descriptor open; keep that number sane. */
const MAX_SEGMENTS = 4096;

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new SpoolConfigError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export function resolveOptions(opts: SpoolOptions): ResolvedSpoolOptions {
  if (typeof opts.dir !== "string" || opts.dir === "") throw new SpoolConfigError("dir is required");
  const maxBytes = positiveInt("maxBytes", opts.maxBytes ?? 1024 * MiB);
  const segmentBytes = positiveInt("segmentBytes", opts.segmentBytes ?? Math.min(8 * MiB, maxBytes));
  if (segmentBytes > maxBytes) throw new SpoolConfigError(`segmentBytes (${segmentBytes}) exceeds maxBytes (${maxBytes})`);
  if (maxBytes / segmentBytes > MAX_SEGMENTS) {
    throw new SpoolConfigError(`maxBytes / segmentBytes must be at most ${MAX_SEGMENTS} (one open file per segment)`);
  }
  const fullPolicy = opts.fullPolicy ?? "drop_oldest_low_priority";
  if (!FULL_POLICIES.includes(fullPolicy)) throw new SpoolConfigError(`fullPolicy must be one of ${FULL_POLICIES.join(", ")}, got "${fullPolicy}"`);
  const fsync = opts.fsync ?? "interval";
  if (!FSYNC_POLICIES.includes(fsync)) throw new SpoolConfigError(`fsync must be one of ${FSYNC_POLICIES.join(", ")}, got "${fsync}"`);
  const fsyncIntervalMs = positiveInt("fsyncIntervalMs", opts.fsyncIntervalMs ?? 200);
  const dropSlackBytes = opts.dropSlackBytes ?? Math.min(segmentBytes, Math.floor(maxBytes / 32));
  if (!Number.isSafeInteger(dropSlackBytes) || dropSlackBytes < 0) throw new SpoolConfigError(`dropSlackBytes must be >= 0, got ${dropSlackBytes}`);
  return { dir: opts.dir, maxBytes, segmentBytes, fullPolicy, fsync, fsyncIntervalMs, dropSlackBytes };
}
