/**
 * Decodes what the eBPF helper writes on its stdout: frames of [u32 LE length][record], each record
 * laid out as in agent/native/ebpf/vigil.h. The helper is ours, but its output is still bounded
 * here: a frame longer than any record, or a record shorter than its kind, is corruption, reported
 * once and never allowed to grow a buffer without limit.
 */

import { formatHostIp } from "@vigil/detection";

export const REC_EXEC = 1;
export const REC_EXIT = 2;
export const REC_CONNECT = 3;
export const REC_FILE = 4;
export const REC_STATS = 5;
export const REC_READY = 6;
export const REC_SOCK = 7;
export const REC_FORK = 8;
export const REC_DNS = 9;

export const FILE_OPEN_WRITE = 1;
export const FILE_UNLINK = 2;
export const FILE_RENAME = 3;
export const FILE_CHMOD = 4;

const PATH_MAX = 256;
const ARGS_MAX = 4096;
const TASK_BYTES = 64;
const CWD_DEPTH = 16;
const CWD_NAME = 48;
const EXEC_CWD = TASK_BYTES + 24;
const EXEC_FIXED = EXEC_CWD + CWD_DEPTH * CWD_NAME;
const EXEC_BYTES = EXEC_FIXED + PATH_MAX + ARGS_MAX;
const FORK_BYTES = 32;
const EXIT_BYTES = TASK_BYTES + 8;
const CONNECT_BYTES = TASK_BYTES + 16 + 16;
const FILE_BYTES = TASK_BYTES + 8 + 2 * PATH_MAX;
const SOCK_BYTES = 16;
/** The kernel copies at most this much of a DNS datagram. */
export const DNS_MAX = 512;
const DNS_FIXED = TASK_BYTES + 32;
/** No record is longer than an exec record. */
export const MAX_FRAME = EXEC_BYTES;

export interface TaskHead {
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  euid: number;
  /** Nanoseconds since boot (CLOCK_BOOTTIME) when the kernel saw it. */
  tsNs: number;
  /** The process's start, ns since boot: with the pid, what identifies it. */
  startNs: number;
  cgroupId: bigint;
  comm: string;
}

export type EbpfRecord =
  /** cwd: the working directory from the kernel's dentries, or undefined when it did not fit (deep, long names). */
  | { kind: "exec"; task: TaskHead; filename: string; argv: string[]; argsTruncated: boolean; cwd: string | undefined }
  /** A new process (not a thread), which may never exec: pid is the child. */
  | { kind: "fork"; pid: number; ppid: number; tsNs: number; startNs: number }
  | { kind: "exit"; task: TaskHead; status: number }
  | { kind: "connect"; task: TaskHead; family: 4 | 6; address: string; port: number; localPort: number; socktype: number; inbound: boolean }
  | { kind: "file"; task: TaskHead; op: number; flags: number; path: string; path2: string }
  /** A TCP socket began closing, closed or listens (newstate: TCP_* as the kernel numbers them); no process. */
  | { kind: "sock"; newState: number; tsNs: number }
  /** A UDP datagram to (sent) or from port 53: payload is its first bytes (≤ DNS_MAX), size its full length. */
  | { kind: "dns"; task: TaskHead; sent: boolean; family: 4 | 6; server: string; port: number; payload: Buffer; size: number }
  | { kind: "stats"; programs: number; dropped: number; written: number }
  | { kind: "ready"; programs: number };

export class RecordError extends Error {}

function cString(buf: Buffer, start: number, max: number): string {
  const end = buf.indexOf(0, start);
  const stop = end === -1 || end > start + max ? start + max : end;
  return buf.toString("utf8", start, stop);
}

function task(buf: Buffer): TaskHead {
  return {
    pid: buf.readUInt32LE(4),
    tid: buf.readUInt32LE(8),
    ppid: buf.readUInt32LE(12),
    uid: buf.readUInt32LE(16),
    euid: buf.readUInt32LE(20),
    tsNs: Number(buf.readBigUInt64LE(24)),
    startNs: Number(buf.readBigUInt64LE(32)),
    cgroupId: buf.readBigUInt64LE(40),
    comm: cString(buf, 48, 16),
  };
}

/** The working directory's names (innermost first, as the kernel walked them) joined into a path. */
function cwdOf(buf: Buffer): string | undefined {
  if (buf.readUInt32LE(TASK_BYTES + 16) !== 0) return undefined;
  const depth = Math.min(buf.readUInt32LE(TASK_BYTES + 12), CWD_DEPTH);
  const names: string[] = [];
  for (let i = depth - 1; i >= 0; i--) names.push(cString(buf, EXEC_CWD + i * CWD_NAME, CWD_NAME));
  return `/${names.join("/")}`;
}

/** argv as the kernel keeps it: NUL-separated, the last one NUL-terminated unless truncated. */
export function splitArgs(raw: Buffer): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0) continue;
    out.push(raw.toString("utf8", start, i));
    start = i + 1;
  }
  if (start < raw.length) out.push(raw.toString("utf8", start));
  return out;
}

function ip(bytes: Buffer, family: 4 | 6): string {
  // IPv4-mapped addresses read as the IPv4 address they carry, as /proc/net does for the agent.
  return formatHostIp(bytes.subarray(0, family === 4 ? 4 : 16));
}

function need(buf: Buffer, n: number, what: string): void {
  if (buf.length < n) throw new RecordError(`${what} record of ${buf.length} bytes, expected ${n}`);
}

export function decodeRecord(buf: Buffer): EbpfRecord {
  need(buf, 4, "any");
  const kind = buf.readUInt32LE(0);
  switch (kind) {
    case REC_EXEC: {
      need(buf, EXEC_FIXED + PATH_MAX, "exec");
      const filenameLen = Math.min(buf.readUInt32LE(TASK_BYTES), PATH_MAX);
      const argsLen = Math.min(buf.readUInt32LE(TASK_BYTES + 4), ARGS_MAX, buf.length - EXEC_FIXED - PATH_MAX);
      const argsStart = EXEC_FIXED + PATH_MAX;
      return {
        kind: "exec",
        task: task(buf),
        filename: buf.toString("utf8", EXEC_FIXED, EXEC_FIXED + filenameLen),
        argv: splitArgs(buf.subarray(argsStart, argsStart + argsLen)),
        argsTruncated: buf.readUInt32LE(TASK_BYTES + 8) !== 0,
        cwd: cwdOf(buf),
      };
    }
    case REC_FORK:
      need(buf, FORK_BYTES, "fork");
      return { kind: "fork", pid: buf.readUInt32LE(4), ppid: buf.readUInt32LE(8), tsNs: Number(buf.readBigUInt64LE(16)), startNs: Number(buf.readBigUInt64LE(24)) };
    case REC_EXIT:
      need(buf, EXIT_BYTES, "exit");
      return { kind: "exit", task: task(buf), status: buf.readInt32LE(TASK_BYTES) };
    case REC_CONNECT: {
      need(buf, CONNECT_BYTES, "connect");
      const fam = buf.readUInt16LE(TASK_BYTES);
      if (fam !== 2 && fam !== 10) throw new RecordError(`connect record with address family ${fam}`);
      const family = fam === 2 ? 4 : 6;
      return {
        kind: "connect",
        task: task(buf),
        family,
        port: buf.readUInt16LE(TASK_BYTES + 2),
        socktype: buf.readUInt16LE(TASK_BYTES + 4),
        inbound: buf.readUInt16LE(TASK_BYTES + 6) === 2,
        localPort: buf.readUInt16LE(TASK_BYTES + 8),
        address: ip(buf.subarray(TASK_BYTES + 16, TASK_BYTES + 32), family),
      };
    }
    case REC_FILE:
      need(buf, FILE_BYTES, "file");
      return {
        kind: "file",
        task: task(buf),
        op: buf.readUInt32LE(TASK_BYTES),
        flags: buf.readUInt32LE(TASK_BYTES + 4),
        path: cString(buf, TASK_BYTES + 8, PATH_MAX),
        path2: cString(buf, TASK_BYTES + 8 + PATH_MAX, PATH_MAX),
      };
    case REC_DNS: {
      need(buf, DNS_FIXED, "dns");
      const fam = buf.readUInt16LE(TASK_BYTES);
      if (fam !== 2 && fam !== 10) throw new RecordError(`dns record with address family ${fam}`);
      const family = fam === 2 ? 4 : 6;
      const len = Math.min(buf.readUInt16LE(TASK_BYTES + 6), DNS_MAX, buf.length - DNS_FIXED);
      return {
        kind: "dns",
        task: task(buf),
        family,
        port: buf.readUInt16LE(TASK_BYTES + 2),
        sent: buf.readUInt16LE(TASK_BYTES + 4) === 1,
        size: buf.readUInt32LE(TASK_BYTES + 8),
        server: ip(buf.subarray(TASK_BYTES + 16, TASK_BYTES + 32), family),
        // A copy: the frame's buffer is the helper's read chunk, which must not be kept alive.
        payload: Buffer.from(buf.subarray(DNS_FIXED, DNS_FIXED + len)),
      };
    }
    case REC_SOCK:
      need(buf, SOCK_BYTES, "sock");
      return { kind: "sock", newState: buf.readUInt32LE(4), tsNs: Number(buf.readBigUInt64LE(8)) };
    case REC_STATS:
      need(buf, 24, "stats");
      return { kind: "stats", programs: buf.readUInt32LE(4), dropped: Number(buf.readBigUInt64LE(8)), written: Number(buf.readBigUInt64LE(16)) };
    case REC_READY:
      need(buf, 8, "ready");
      return { kind: "ready", programs: buf.readUInt32LE(4) };
    default:
      throw new RecordError(`unknown record kind ${kind}`);
  }
}

/**
 * Splits the helper's byte stream into records. Holds at most one partial frame (≤ MAX_FRAME + 4
 * bytes) between chunks.
 */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** Records complete in `chunk` (plus what was held back); throws RecordError on corruption. */
  push(chunk: Buffer): EbpfRecord[] {
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: EbpfRecord[] = [];
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32LE(off);
      if (len === 0 || len > MAX_FRAME) throw new RecordError(`frame of ${len} bytes (at most ${MAX_FRAME})`);
      if (buf.length - off - 4 < len) break;
      out.push(decodeRecord(buf.subarray(off + 4, off + 4 + len)));
      off += 4 + len;
    }
    buf = buf.subarray(off);
    // Copy the tail so the large chunk it came from can be freed.
    this.pending = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
    return out;
  }
}
