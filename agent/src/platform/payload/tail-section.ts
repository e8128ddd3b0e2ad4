import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

/**
 * Sections appended to the agent binary after Node's SEA image (scripts/build/sea-agent.mjs), each
 * followed by its trailer:
 *   [bytes][sha256 of them, 64 hex chars][u64 LE length][8-byte magic "VGL....."]
 * The last one is the eBPF helper (sensors/ebpf/helper-binary.ts), the one before it the payload
 * (payload.ts). Node never reads past its own sections, so these cost no memory until read.
 */
export const TRAILER_BYTES = 64 + 8 + 8;
/** How many sections are walked back from the end before giving up. */
const MAX_SECTIONS = 4;

/**
 * The section with `magic`, its hash checked against its trailer (a corrupt binary throws);
 * undefined when the file carries none. Sections longer than `maxBytes` are not ours.
 */
export function readTailSection(file: string, magic: string, maxBytes: number): { bytes: Buffer; sha256: string } | undefined {
  const fd = openSync(file, "r");
  try {
    let end = fstatSync(fd).size;
    const trailer = Buffer.alloc(TRAILER_BYTES);
    for (let i = 0; i < MAX_SECTIONS && end >= TRAILER_BYTES; i++) {
      readSync(fd, trailer, 0, TRAILER_BYTES, end - TRAILER_BYTES);
      const found = trailer.toString("latin1", 72);
      if (!/^VGL[A-Z0-9]{5}$/.test(found)) return undefined;
      const expected = trailer.toString("latin1", 0, 64);
      const length = Number(trailer.readBigUInt64LE(64));
      if (!/^[0-9a-f]{64}$/.test(expected) || length <= 0 || length > end - TRAILER_BYTES) return undefined;
      const start = end - TRAILER_BYTES - length;
      if (found === magic) {
        if (length > maxBytes) return undefined;
        const bytes = Buffer.alloc(length);
        readSync(fd, bytes, 0, length, start);
        if (createHash("sha256").update(bytes).digest("hex") !== expected) throw new Error(`${file}: appended ${magic} section does not match its recorded hash (corrupt agent binary)`);
        return { bytes, sha256: expected };
      }
      end = start;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
