import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { readTailSection } from "../../platform/payload/tail-section";

/**
 * The single agent binary carries the eBPF helper appended after the Node SEA image:
 *   [helper bytes][sha256 of them, 64 hex chars][u64 LE helper length][TRAILER_MAGIC]
 * scripts/build/sea-agent.mjs writes it (the trailer format is platform/payload/tail-section.ts's); this module finds it, extracts it into the state dir and
 * checks its hash every start before it is run, so a helper swapped on disk is never executed.
 */
export const TRAILER_MAGIC = "VGLEBPF1";
/** The helper is ~2 MB; anything far larger is not ours. */
const MAX_HELPER_BYTES = 32 << 20;

export interface LocatedHelper {
  path: string;
  sha256: string;
  /** Where it came from: "config", "embedded" or "dist". */
  origin: string;
}

function sha256(buf: Buffer): string {
  return createHash("sha256").update(buf).digest("hex");
}

/** The embedded helper of an executable (the last appended section, checked against its hash), or undefined when it carries none. */
export function readEmbeddedHelper(executable: string): { bytes: Buffer; sha256: string } | undefined {
  return readTailSection(executable, TRAILER_MAGIC, MAX_HELPER_BYTES);
}

/** Refuses a helper that someone other than root (or this user) could have replaced. */
function checkOwnership(path: string): void {
  const st = statSync(path);
  const me = process.getuid?.() ?? 0;
  if (!st.isFile()) throw new Error(`${path} is not a regular file`);
  if (st.uid !== 0 && st.uid !== me) throw new Error(`${path} is owned by uid ${st.uid}`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${path} is writable by group or others (mode ${(st.mode & 0o777).toString(8)})`);
}

/**
 * Finds the helper to run: the configured path, else the one embedded in this executable
 * (extracted to <stateDir>/bin), else dist/vigil-ebpf beside the agent bundle (a checkout).
 * Throws with the reason when there is none or it fails its checks.
 */
export function locateHelper(opts: { configured?: string; stateDir: string; executable?: string; bundleDir?: string }): LocatedHelper {
  if (opts.configured) {
    checkOwnership(opts.configured);
    return { path: opts.configured, sha256: sha256(readFileSync(opts.configured)), origin: "config" };
  }
  const embedded = readEmbeddedHelper(opts.executable ?? process.execPath);
  if (embedded) {
    const dir = join(opts.stateDir, "bin");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, "vigil-ebpf");
    const current = existsSync(path) ? readFileSync(path) : undefined;
    if (!current || sha256(current) !== embedded.sha256) {
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, embedded.bytes, { mode: 0o500 });
      renameSync(tmp, path);
    }
    checkOwnership(path);
    // Checked again as it will run: what is on disk now, not what was written a moment ago.
    const onDisk = sha256(readFileSync(path));
    if (onDisk !== embedded.sha256) throw new Error(`${path} changed after extraction (sha256 ${onDisk.slice(0, 12)}…)`);
    return { path, sha256: onDisk, origin: "embedded" };
  }
  const dist = join(opts.bundleDir ?? dirname(process.argv[1] ?? "."), "vigil-ebpf");
  if (existsSync(dist)) {
    checkOwnership(dist);
    return { path: dist, sha256: sha256(readFileSync(dist)), origin: "dist" };
  }
  throw new Error("no eBPF helper: this agent was built without clang/libbpf (see README: kernel sensor)");
}
