/**
 * Reads the rules/linux/** rule files out of a SigmaHQ release archive (.zip as SigmaHQ publishes
 * its rule packages, or a .tar.gz such as the repository tarball), without extracting anything:
 * entries are parsed here, in memory, within fixed bounds. The archive is untrusted input, so:
 *   - the archive may be at most 200 MiB, each taken rule at most 1 MiB, at most 200,000 entries
 *     and 2 GiB unpacked in all (a decompression bomb stops at the bound);
 *   - any entry whose name is absolute, has a ".." segment or a backslash refuses the archive whole
 *     (a path traversal attempt says the archive is hostile, whatever else it holds);
 *   - links, encrypted or zip64 entries and non-UTF-8 files under rules/linux are refused one by one.
 * Nothing here writes to disk; pack-update.ts writes the accepted rules under names it checked.
 */
import { closeSync, openSync, readSync, statSync, createReadStream } from "node:fs";
import { createGunzip, inflateRawSync } from "node:zlib";
import type { PackRefusal } from "./pack-types";

export const MAX_ARCHIVE_BYTES = 200 * 1024 * 1024;
export const MAX_ENTRY_BYTES = 1024 * 1024;
export const MAX_ENTRIES = 200_000;
export const MAX_UNPACKED_BYTES = 2 * 1024 * 1024 * 1024;
const MAX_META_BYTES = 64 * 1024;
const SAFE_SEGMENT = /^[A-Za-z0-9._@+-][A-Za-z0-9._@+ -]{0,199}$/;

export class ArchiveError extends Error {}

export interface LinuxRuleFile {
  /** path below rules/linux/ ("process_creation/x.yml"), every segment checked */
  path: string;
  text: string;
}

export interface ArchiveScan {
  files: LinuxRuleFile[];
  refused: PackRefusal[];
  entries: number;
}

export async function readLinuxRules(file: string): Promise<ArchiveScan> {
  const st = statSync(file);
  if (!st.isFile()) throw new ArchiveError(`${file}: not a regular file`);
  if (st.size > MAX_ARCHIVE_BYTES) throw new ArchiveError(`${file}: ${st.size} bytes, larger than the ${MAX_ARCHIVE_BYTES}-byte limit for a rule archive`);
  const magic = readAt(file, 0, 4);
  if (magic[0] === 0x1f && magic[1] === 0x8b) return readTarGz(file);
  if (magic.readUInt32LE(0) === 0x04034b50 || magic.readUInt32LE(0) === 0x06054b50) return readZip(file, st.size);
  throw new ArchiveError(`${file}: neither a .zip nor a .tar.gz archive`);
}

/**
 * Where an entry goes: its path below rules/linux/, or undefined when it is not a rule there.
 * Throws on a traversal attempt anywhere in the archive.
 */
export function linuxRulePath(name: string): { path?: string; unsafe?: string } {
  if (name.includes("\\") || name.startsWith("/") || name.includes("\0")) throw new ArchiveError(`entry "${printable(name)}": absolute or backslashed path (path traversal); archive refused`);
  const segs = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segs.includes("..")) throw new ArchiveError(`entry "${printable(name)}": ".." in the path (path traversal); archive refused`);
  const i = segs.findIndex((s, k) => s === "rules" && segs[k + 1] === "linux");
  if (i < 0) return {};
  const rest = segs.slice(i + 2);
  if (rest.length === 0 || !/\.ya?ml$/i.test(rest[rest.length - 1]!) || rest.includes("deprecated")) return {};
  if (rest.length > 4 || !rest.every((s) => SAFE_SEGMENT.test(s))) return { unsafe: rest.join("/") };
  return { path: rest.join("/") };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

class Collector {
  readonly files: LinuxRuleFile[] = [];
  readonly refused: PackRefusal[] = [];
  entries = 0;

  count(): void {
    if (++this.entries > MAX_ENTRIES) throw new ArchiveError(`more than ${MAX_ENTRIES} entries; archive refused`);
  }

  /** Returns the target path when the entry is a rule to read, after recording any refusal. */
  want(name: string, kind: "file" | "link" | "other", size: number): string | undefined {
    const t = linuxRulePath(name);
    if (t.unsafe !== undefined) return this.refuse(t.unsafe, "file name outside the accepted characters or nested too deep");
    if (!t.path) return undefined;
    if (kind === "link") return this.refuse(t.path, "a link, not a file");
    if (kind !== "file") return undefined;
    if (size > MAX_ENTRY_BYTES) return this.refuse(t.path, `${size} bytes, larger than ${MAX_ENTRY_BYTES}`);
    return t.path;
  }

  private readonly paths = new Set<string>();
  private readonly dirs = new Set<string>();

  add(path: string, data: Buffer): void {
    // Each file must land at its own path: a repeated name, or a file where another needs a folder
    // ("a.yml" and "a.yml/b.yml"), would overwrite or break the write.
    const parents = path
      .split("/")
      .slice(0, -1)
      .map((_, i, a) => a.slice(0, i + 1).join("/"));
    if (this.paths.has(path) || this.dirs.has(path) || parents.some((d) => this.paths.has(d))) {
      this.refuse(path, "a second entry for the same path");
      return;
    }
    let text: string;
    try {
      text = utf8.decode(data);
    } catch {
      this.refuse(path, "not UTF-8 text");
      return;
    }
    this.paths.add(path);
    for (const d of parents) this.dirs.add(d);
    this.files.push({ path, text });
  }

  refuse(path: string, reason: string): undefined {
    this.refused.push({ path, reason });
    return undefined;
  }

  result(): ArchiveScan {
    return { files: this.files, refused: this.refused, entries: this.entries };
  }
}

// ---- tar.gz ----------------------------------------------------------------------------------

/** Pulls exact byte counts out of a stream (the gunzipped tar), counting what was unpacked. */
class StreamReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private total = 0;

  constructor(stream: AsyncIterable<Buffer>) {
    this.it = stream[Symbol.asyncIterator]();
  }

  /** n bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.buf.length < n) {
      const r = await this.it.next();
      if (r.done) break;
      this.total += r.value.length;
      if (this.total > MAX_UNPACKED_BYTES) throw new ArchiveError(`unpacks to more than ${MAX_UNPACKED_BYTES} bytes; archive refused`);
      this.buf = this.buf.length ? Buffer.concat([this.buf, r.value]) : r.value;
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const chunk = await this.read(Math.min(n, 1 << 20));
      if (chunk.length === 0) throw new ArchiveError("truncated tar archive");
      n -= chunk.length;
    }
  }
}

const cstr = (b: Buffer): string => {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString("utf8");
};

function octal(b: Buffer, what: string): number {
  if (b[0]! & 0x80) throw new ArchiveError(`tar ${what} in base-256 (an entry of several GiB); archive refused`);
  const s = cstr(b).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new ArchiveError(`tar header: bad ${what} "${printable(s)}"; archive refused`);
  return parseInt(s, 8);
}

function paxPath(data: Buffer): string | undefined {
  // Records are "<len> key=value\n".
  let path: string | undefined;
  for (const line of data.toString("utf8").split("\n")) {
    const m = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (m && m[1] === "path") path = m[2];
  }
  return path;
}

async function readTarGz(file: string): Promise<ArchiveScan> {
  const gunzip = createReadStream(file).pipe(createGunzip());
  const r = new StreamReader(gunzip);
  const c = new Collector();
  let longName: string | undefined;
  try {
    for (;;) {
      const h = await r.read(512);
      if (h.length < 512) throw new ArchiveError("truncated tar archive");
      if (h.every((x) => x === 0)) break;
      const size = octal(h.subarray(124, 136), "size");
      const type = String.fromCharCode(h[156]!);
      const padded = Math.ceil(size / 512) * 512;
      if (type === "x" || type === "L") {
        if (size > MAX_META_BYTES) throw new ArchiveError(`tar extended header of ${size} bytes; archive refused`);
        const data = await r.read(padded);
        longName = type === "x" ? paxPath(data.subarray(0, size)) : cstr(data.subarray(0, size));
        continue;
      }
      if (type === "g") {
        await r.skip(padded);
        continue;
      }
      c.count();
      const prefix = h.subarray(257, 263).toString("latin1").startsWith("ustar") ? cstr(h.subarray(345, 500)) : "";
      const name = longName ?? (prefix ? `${prefix}/${cstr(h.subarray(0, 100))}` : cstr(h.subarray(0, 100)));
      longName = undefined;
      const kind = type === "0" || type === "\0" || type === "7" ? "file" : type === "1" || type === "2" ? "link" : "other";
      const target = c.want(name, kind, size);
      if (target !== undefined) {
        const data = await r.read(padded);
        if (data.length < padded) throw new ArchiveError("truncated tar archive");
        c.add(target, Buffer.from(data.subarray(0, size)));
      } else await r.skip(padded);
    }
  } finally {
    gunzip.destroy();
  }
  return c.result();
}

// ---- zip -------------------------------------------------------------------------------------

function readAt(file: string, pos: number, len: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const b = Buffer.alloc(len);
    const n = readSync(fd, b, 0, len, pos);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

function readZip(file: string, size: number): ArchiveScan {
  const tailLen = Math.min(size, 22 + 65535);
  const tail = readAt(file, size - tailLen, tailLen);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ArchiveError("zip: no end of central directory; archive refused");
  const total = tail.readUInt16LE(eocd + 10);
  const cdSize = tail.readUInt32LE(eocd + 12);
  const cdOff = tail.readUInt32LE(eocd + 16);
  if (total === 0xffff || cdOff === 0xffffffff) throw new ArchiveError("zip64 archives are not accepted");
  if (cdOff + cdSize > size || cdSize > 64 * 1024 * 1024) throw new ArchiveError("zip: central directory out of bounds; archive refused");
  const cd = readAt(file, cdOff, cdSize);
  const c = new Collector();
  let p = 0;
  for (let n = 0; n < total; n++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw new ArchiveError("zip: corrupt central directory; archive refused");
    c.count();
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const csize = cd.readUInt32LE(p + 20);
    const usize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const mode = cd.readUInt32LE(p + 38) >>> 16;
    const local = cd.readUInt32LE(p + 42);
    const name = cd.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    p += 46 + nameLen + extraLen + commentLen;
    const isLink = (mode & 0o170000) === 0o120000;
    const target = c.want(name, isLink ? "link" : name.endsWith("/") ? "other" : "file", usize);
    if (target === undefined) continue;
    if (flags & 1) {
      c.refuse(target, "encrypted entry");
      continue;
    }
    if (csize === 0xffffffff || usize === 0xffffffff || local === 0xffffffff) {
      c.refuse(target, "zip64 entry");
      continue;
    }
    if (method !== 0 && method !== 8) {
      c.refuse(target, `compression method ${method} (only stored and deflate)`);
      continue;
    }
    if (csize > MAX_ENTRY_BYTES + 65536 || local + 30 > size) {
      c.refuse(target, "entry out of bounds");
      continue;
    }
    const lh = readAt(file, local, 30);
    if (lh.length < 30 || lh.readUInt32LE(0) !== 0x04034b50) {
      c.refuse(target, "corrupt local header");
      continue;
    }
    const start = local + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
    if (start + csize > size) {
      c.refuse(target, "entry out of bounds");
      continue;
    }
    const raw = readAt(file, start, csize);
    let data: Buffer;
    try {
      data = method === 0 ? raw : inflateRawSync(raw, { maxOutputLength: MAX_ENTRY_BYTES });
    } catch {
      c.refuse(target, `does not inflate within ${MAX_ENTRY_BYTES} bytes`);
      continue;
    }
    if (data.length !== usize) {
      c.refuse(target, "size differs from the one the archive declares");
      continue;
    }
    c.add(target, data);
  }
  return c.result();
}

function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, "?").slice(0, 200);
}
