import { crc32 } from "node:zlib";
import type { Priority } from "./types";

/*
 * On-disk record (little endian):
 *   u32 bodyLen   bytes after this 8-byte prefix
 *   u32 crc32     of the body
 *   body: u32 seqLo, u32 seqHi, u8 priority, u8 flags (0), u8 kindLen, kind (UTF-8), payload
 * The length comes first so a reader can skip a record without decoding it; the
 * checksum covers seq and kind too, so a flipped bit anywhere is caught.
 */
export const PREFIX_BYTES = 8;
const BODY_FIXED = 11;
/** A length above this is treated as corruption, not as a record to allocate for. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
const MAX_PRIORITY = 2;

export interface DecodedRecord {
  seq: number;
  priority: Priority;
  kind: string;
  payload: Uint8Array;
  /** Total bytes on disk, prefix included. */
  size: number;
}

/** Kinds are a handful of names repeated on every record; encode each once. */
const kindCache = new Map<string, Buffer>();

export function kindBytes(kind: string): Buffer {
  const cached = kindCache.get(kind);
  if (cached) return cached;
  const b = Buffer.from(kind, "utf8");
  if (b.length > 255) throw new RangeError(`record kind longer than 255 bytes: "${kind.slice(0, 40)}..."`);
  if (kindCache.size < 256) kindCache.set(kind, b);
  return b;
}

export function recordSize(kindLen: number, payloadLen: number): number {
  return PREFIX_BYTES + BODY_FIXED + kindLen + payloadLen;
}

/** Writes one record at `at` in `out`; returns the offset after it. */
export function writeRecord(out: Buffer, at: number, seq: number, priority: Priority, kind: Buffer, payload: Uint8Array): number {
  const bodyLen = BODY_FIXED + kind.length + payload.length;
  const body = at + PREFIX_BYTES;
  out.writeUInt32LE(seq % 0x1_0000_0000, body);
  out.writeUInt32LE(Math.floor(seq / 0x1_0000_0000), body + 4);
  out.writeUInt8(priority, body + 8);
  out.writeUInt8(0, body + 9);
  out.writeUInt8(kind.length, body + 10);
  kind.copy(out, body + BODY_FIXED);
  out.set(payload, body + BODY_FIXED + kind.length);
  out.writeUInt32LE(bodyLen, at);
  out.writeUInt32LE(crc32(out.subarray(body, body + bodyLen)), at + 4);
  return body + bodyLen;
}

export type ParseResult =
  | { ok: true; record: DecodedRecord }
  /** Fewer bytes than the record claims: either a torn tail or the caller must read more. */
  | { ok: false; reason: "short"; need: number }
  | { ok: false; reason: "corrupt"; detail: string };

/** Parses the record starting at `at`. Never throws on bad bytes. */
export function parseRecord(buf: Buffer, at: number, end: number): ParseResult {
  if (end - at < PREFIX_BYTES) return { ok: false, reason: "short", need: PREFIX_BYTES };
  const bodyLen = buf.readUInt32LE(at);
  if (bodyLen < BODY_FIXED || bodyLen > MAX_BODY_BYTES) return { ok: false, reason: "corrupt", detail: `implausible length ${bodyLen}` };
  if (end - at < PREFIX_BYTES + bodyLen) return { ok: false, reason: "short", need: PREFIX_BYTES + bodyLen };
  const body = buf.subarray(at + PREFIX_BYTES, at + PREFIX_BYTES + bodyLen);
  if (crc32(body) !== buf.readUInt32LE(at + 4)) return { ok: false, reason: "corrupt", detail: "checksum mismatch" };
  const seq = body.readUInt32LE(0) + body.readUInt32LE(4) * 0x1_0000_0000;
  const priority = body.readUInt8(8);
  const kindLen = body.readUInt8(10);
  if (priority > MAX_PRIORITY || BODY_FIXED + kindLen > bodyLen || seq < 1 || !Number.isSafeInteger(seq)) {
    return { ok: false, reason: "corrupt", detail: "malformed header" };
  }
  return {
    ok: true,
    record: {
      seq,
      priority: priority as Priority,
      kind: body.toString("utf8", BODY_FIXED, BODY_FIXED + kindLen),
      payload: body.subarray(BODY_FIXED + kindLen),
      size: PREFIX_BYTES + bodyLen,
    },
  };
}
