/** Builds small .tar.gz and .zip archives in memory, entry by entry, so tests control every name and type. */
import { crc32, deflateRawSync, gzipSync } from "node:zlib";

export interface Entry {
  name: string;
  data?: string | Buffer;
  /** tar type flag: "0" file (default), "2" symlink, "5" directory */
  type?: "0" | "2" | "5";
  link?: string;
}

function tarHeader(name: string, size: number, type: string, link = ""): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, "utf8");
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(size.toString(8).padStart(11, "0") + "\0", 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write(type, 156);
  h.write(link, 157);
  h.write("ustar\x0000", 257, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return h;
}

export function tarGz(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? "");
    if (e.name.length > 100) {
      // GNU long name record, as GNU tar writes it
      const n = Buffer.from(e.name + "\0");
      parts.push(tarHeader("././@LongLink", n.length, "L"), n, Buffer.alloc((512 - (n.length % 512)) % 512));
    }
    parts.push(tarHeader(e.name, e.type === "0" || !e.type ? data.length : 0, e.type ?? "0", e.link));
    if (!e.type || e.type === "0") parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts));
}

export function zip(entries: Entry[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = Buffer.from(e.data ?? "");
    const comp = deflateRawSync(data);
    const name = Buffer.from(e.name);
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(8, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(comp.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(0x0314, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(8, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(comp.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(((e.type === "2" ? 0o120777 : 0o100644) << 16) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, comp);
    central.push(ch, name);
    offset += 30 + name.length + comp.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export const rule = (title: string, body: string, level = "high"): string =>
  `title: ${title}\nid: ${uuidFor(title)}\nstatus: test\nauthor: Vigil test\nlogsource:\n    product: linux\n    category: process_creation\ndetection:\n${body}\nlevel: ${level}\n`;

/** A stable uuid-shaped id per title, so rules differ by id without randomness. */
function uuidFor(s: string): string {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const x = h.toString(16).padStart(8, "0");
  return `${x}-0000-4000-8000-${x}0000`;
}
